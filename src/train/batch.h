// Token sequences -> padded tensors, and the read-outs the stages share (reward at the last real token).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "model/transformer.h"

namespace rlhf {

// One training sequence: prompt ids then response ids; the loss (SFT) or the reward read-out (RM) is on the response.
struct Sequence {
  std::vector<int64_t> ids;
  int64_t prompt_length = 0;  // ids[0, prompt_length) are the prompt; 0 = the whole text is trained on (pretraining)
};

struct PaddedBatch {
  torch::Tensor ids;        // [B, T], right-padded
  torch::Tensor attention;  // [B, T] 1 = real token
  torch::Tensor loss_mask;  // [B, T] 1 = a token whose log-likelihood is trained (response, or all text)
};

PaddedBatch pad_right(const std::vector<const Sequence*>& sequences, int64_t pad_id, torch::Device device);

// Index of the last real token of each row: mask [B, T] -> [B].
torch::Tensor last_token_index(const torch::Tensor& mask);

// Scalar-head output at each row's last real token (the reward of a reward model). ids, mask [B, T] -> [B].
torch::Tensor score_at_last_token(TransformerImpl& model, const torch::Tensor& ids, const torch::Tensor& mask);

// Mean NLL over the loss-masked tokens of a batch (SFT, pretraining and ptx all use it).
torch::Tensor language_model_loss(TransformerImpl& model, const PaddedBatch& batch);

}  // namespace rlhf
