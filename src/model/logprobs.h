// Per-token log-probabilities of given tokens, without materialising a [batch, seq, vocab] tensor: the unembedding and
// the log-softmax run over row chunks, and the backward pass recomputes each chunk's logits instead of keeping them.
#pragma once
#include <torch/torch.h>

#include "model/transformer.h"

namespace rlhf {

struct TokenLogprobs {
  torch::Tensor logprobs;  // [B, T-1]: log π(x_{t+1} | x_≤t) / at temperature T, differentiable
  torch::Tensor entropy;   // [B, T-1]: entropy of each position's distribution (no gradient), when asked for
  torch::Tensor top1;      // [B, T-1]: 1 where the given token is the most likely one, else 0 (no gradient; TRL's
                           // mean_token_accuracy)
};

// input_ids, attention_mask [B, T]; the log-prob of each next token given its prefix. positions [B, T] (examples
// packed apart: each token's position in its own example, 0 where one starts) or undefined (0.. from each row's first
// real token): a token then sees only its own example.
TokenLogprobs token_logprobs(TransformerImpl& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                             double temperature = 1.0, bool with_entropy = false,
                             const torch::Tensor& positions = torch::Tensor());

// The same from hidden states: hidden [N, C], weight [V, C], targets [N] -> log-probs [N] (and entropy [N]).
TokenLogprobs linear_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
                              double temperature, bool with_entropy);

}  // namespace rlhf
