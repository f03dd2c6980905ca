#include "train/batch.h"

#include "model/logprobs.h"
#include "train/losses.h"

namespace rlhf {

PaddedBatch pad_right(const std::vector<const Sequence*>& sequences, int64_t pad_id, torch::Device device) {
  const int64_t B = static_cast<int64_t>(sequences.size());
  int64_t T = 1;
  for (const auto* s : sequences) T = std::max<int64_t>(T, static_cast<int64_t>(s->ids.size()));
  auto ids = torch::full({B, T}, pad_id, torch::kLong);
  auto attention = torch::zeros({B, T}, torch::kLong);
  auto loss_mask = torch::zeros({B, T}, torch::kLong);
  for (int64_t b = 0; b < B; ++b) {
    const auto& s = *sequences[b];
    const int64_t n = static_cast<int64_t>(s.ids.size());
    ids[b].slice(0, 0, n).copy_(torch::tensor(s.ids, torch::kLong));
    attention[b].slice(0, 0, n).fill_(1);
    loss_mask[b].slice(0, s.prompt_length, n).fill_(1);
  }
  return {ids.to(device), attention.to(device), loss_mask.to(device)};
}

torch::Tensor last_token_index(const torch::Tensor& mask) {
  auto positions = torch::arange(mask.size(1), mask.options().dtype(torch::kLong)).unsqueeze(0);
  return (positions * mask.to(torch::kLong)).argmax(1);
}

torch::Tensor score_at_last_token(TransformerImpl& model, const torch::Tensor& ids, const torch::Tensor& mask) {
  auto hidden = model.hidden_states(ids, positions_from_mask(mask), mask);  // [B, T, C]
  auto last = last_token_index(mask);
  auto picked = hidden.gather(1, last.view({-1, 1, 1}).expand({-1, 1, hidden.size(2)})).squeeze(1);  // [B, C]
  return model.scores(picked);
}

torch::Tensor language_model_loss(TransformerImpl& model, const PaddedBatch& batch) {
  auto logprobs = token_logprobs(model, batch.ids, batch.attention).logprobs;  // [B, T-1], predicts ids[:, 1:]
  auto target_mask = batch.loss_mask.slice(1, 1) * batch.attention.slice(1, 1);
  return negative_log_likelihood(logprobs, target_mask);
}

}  // namespace rlhf
