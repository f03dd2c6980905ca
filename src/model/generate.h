// Batched generation with a pre-allocated KV cache, for left-padded prompt batches.
#pragma once
#include <torch/torch.h>

#include "model/transformer.h"

namespace rlhf {

struct GenerationOptions {
  int64_t max_new_tokens = 64;
  bool do_sample = true;      // false: greedy
  double temperature = 1.0;   // log-probs are taken at this temperature too (PPO.md: logits / T everywhere)
  int64_t top_k = 0;          // 0: off
  double top_p = 1.0;         // 1: off
  int64_t eos_token_id = -1;  // -1: never stops early
  std::vector<int64_t> stop_token_ids;  // more ids that end a row (e.g. <|im_end|> of a chat format)
  int64_t pad_token_id = 0;   // written after a row has finished
  bool use_cache = true;      // false recomputes the whole sequence each step (a reference for tests)
  // Under bf16 autocast with fp32 weights (PPO's policy with --dtype bfloat16): cast the weights that feed matrix
  // products to bf16 once for the whole generation instead of autocast casting them again in every decode step
  // (it caches no casts in inference mode). Same numbers either way; false is the reference for tests.
  bool cast_weights_once = true;
  // On the CPU: pack the linear layers' weights once into oneDNN's layout for the whole generation
  // (model/cpu_linear.h); false repacks them in every product, as LibTorch does.
  bool pack_weights = true;
};

struct GenerationOutput {
  torch::Tensor sequences;          // [B, P + N]: the prompt batch followed by the new tokens
  torch::Tensor response_ids;       // [B, N]: pad after a row's EOS
  torch::Tensor response_logprobs;  // [B, N]: log π(token | prefix) at the sampling temperature (0 after EOS)
  torch::Tensor response_mask;      // [B, N]: 1 for generated tokens up to and including EOS
};

// prompt_ids, prompt_mask [B, P] (left-padded: 0s in the mask come first). `generator` makes sampling reproducible.
GenerationOutput generate(TransformerImpl& model, const torch::Tensor& prompt_ids, const torch::Tensor& prompt_mask,
                          const GenerationOptions& options, at::Generator generator);

// One token per row drawn from `probs` [B, V] (non-negative weights, normalised or not) with `generator`: the inverse
// of each row's cumulative distribution (summed in double) at one uniform draw. ATen's multinomial instead draws an
// exponential for every vocabulary entry, one at a time: 2.7 ms at 16 x 8,192 and 33 ms at 32 x 50,257 on our 2-core
// machine, more than a decode step of the demo model; this costs 0.08 ms and 1.1 ms there. Undefined when a row's
// total is not finite and positive (NaN or inf in the logits).
torch::Tensor sample_categorical(const torch::Tensor& probs, at::Generator generator);

// Keeps the top_k largest / the smallest set with probability mass >= top_p, sets the rest to -inf. logits [B, V].
torch::Tensor filter_logits(const torch::Tensor& logits, int64_t top_k, double top_p);

}  // namespace rlhf
