#include "train/losses.h"

#include <algorithm>

#include "common/error.h"
#include "model/logprobs.h"

namespace rlhf {

torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& mask) {
  auto m = mask.to(x.scalar_type());
  return (x * m).sum() / m.sum().clamp_min(1.0);
}

torch::Tensor masked_whiten(const torch::Tensor& x, const torch::Tensor& mask, bool shift_mean) {
  auto m = mask.to(x.scalar_type());
  auto count = m.sum().clamp_min(1.0);
  auto mean = (x * m).sum() / count;
  // Unbiased variance (Bessel), as TRL and OpenRLHF compute it.
  auto variance = ((x - mean).pow(2) * m).sum() / (count - 1).clamp_min(1.0);
  auto whitened = (x - mean) * torch::rsqrt(variance + 1e-8);
  if (!shift_mean) whitened = whitened + mean;
  return whitened * m;
}

torch::Tensor negative_log_likelihood(const torch::Tensor& logprobs, const torch::Tensor& mask) {
  return -masked_mean(logprobs, mask);
}

torch::Tensor language_model_loss(TransformerImpl& model, const PaddedBatch& batch) {
  auto logprobs = token_logprobs(model, batch.ids, batch.attention, 1.0, false, batch.positions).logprobs;  // [B, T-1]
  auto target_mask = batch.loss_mask.slice(1, 1) * batch.attention.slice(1, 1);
  return negative_log_likelihood(logprobs, target_mask);
}

LanguageModelLoss language_model_loss_and_accuracy(TransformerImpl& model, const PaddedBatch& batch) {
  auto out = token_logprobs(model, batch.ids, batch.attention, 1.0, false, batch.positions);  // [B, T-1]: ids[:, 1:]
  auto target_mask = batch.loss_mask.slice(1, 1) * batch.attention.slice(1, 1);
  LanguageModelLoss result;
  result.loss = negative_log_likelihood(out.logprobs, target_mask);
  result.tokens = target_mask.sum().item<double>();
  result.correct = (out.top1 * target_mask.to(out.top1.scalar_type())).sum().item<double>();
  return result;
}

RankingLoss ranking_loss(const torch::Tensor& rewards, const std::vector<std::pair<int, int>>& pairs) {
  check(!pairs.empty(), "ranking loss: a prompt needs at least one untied comparison");
  std::vector<int64_t> winners, losers;
  for (const auto& [w, l] : pairs) winners.push_back(w), losers.push_back(l);
  auto index = torch::TensorOptions().dtype(torch::kLong).device(rewards.device());
  auto margin = rewards.index_select(0, torch::tensor(winners, index)) - rewards.index_select(0, torch::tensor(losers, index));
  RankingLoss out;
  // 1/C(K,2) with K the prompt's responses, also when labelers tied some of them: a tie is a comparison with nothing
  // to learn (it adds 0), so an untied pair weighs the same whatever the ties beside it (PPO details in the README).
  const double k = static_cast<double>(rewards.size(0));
  out.loss = -torch::log_sigmoid(margin).sum() / (k * (k - 1) / 2);
  out.pairs = static_cast<int64_t>(pairs.size());
  out.correct = (margin > 0).sum().item<int64_t>();
  out.margin_sum = margin.detach().sum().item<double>();
  return out;
}

RankingLoss ranking_loss_batch(const torch::Tensor& rewards, const std::vector<int64_t>& offsets,
                               const std::vector<std::vector<std::pair<int, int>>>& pairs) {
  RankingLoss total;
  std::vector<torch::Tensor> losses;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const int64_t end = i + 1 < offsets.size() ? offsets[i + 1] : rewards.size(0);
    auto one = ranking_loss(rewards.slice(0, offsets[i], end), pairs[i]);
    losses.push_back(one.loss);
    total.pairs += one.pairs, total.correct += one.correct, total.margin_sum += one.margin_sum;
  }
  total.loss = torch::stack(losses).mean();  // each prompt weighs the same, whatever its K
  return total;
}

torch::Tensor kl_estimate(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs, const std::string& estimator) {
  auto log_ratio = logprobs - ref_logprobs;
  if (estimator == "k1") return log_ratio;
  if (estimator == "k3") return (-log_ratio).exp() - 1 + log_ratio;
  fail("kl_estimator", "k1 or k3", "'" + estimator + "'");
}

torch::Tensor per_token_rewards(const torch::Tensor& score, const torch::Tensor& kl, const torch::Tensor& mask,
                                double kl_coef) {
  auto m = mask.to(kl.scalar_type());
  auto rewards = -kl_coef * kl * m;
  // The score lands on the last real response token (EOS, or the final token when cut at the length limit).
  auto last = (m.sum(1).to(torch::kLong) - 1).clamp_min(0);
  return rewards.scatter_add(1, last.unsqueeze(1), score.to(rewards.scalar_type()).unsqueeze(1));
}

Advantages generalized_advantages(const torch::Tensor& rewards, const torch::Tensor& values, const torch::Tensor& mask,
                                  double gamma, double lam) {
  const int64_t N = rewards.size(1);
  auto m = mask.to(rewards.scalar_type());
  auto v = values * m;
  auto advantages = torch::zeros_like(rewards);
  auto next_advantage = torch::zeros({rewards.size(0)}, rewards.options());
  for (int64_t t = N - 1; t >= 0; --t) {
    auto next_value = t + 1 < N ? v.select(1, t + 1) : torch::zeros_like(next_advantage);
    auto delta = rewards.select(1, t) + gamma * next_value - v.select(1, t);
    next_advantage = (delta + gamma * lam * next_advantage) * m.select(1, t);
    advantages.select(1, t).copy_(next_advantage);
  }
  return {advantages, (advantages + v) * m};
}

PolicyLoss ppo_policy_loss(const torch::Tensor& logprobs, const torch::Tensor& old_logprobs,
                           const torch::Tensor& advantages, const torch::Tensor& mask, double cliprange) {
  auto log_ratio = (logprobs - old_logprobs).clamp(-20.0, 20.0);
  auto ratio = log_ratio.exp();
  auto unclipped = -advantages * ratio;
  auto clipped = -advantages * ratio.clamp(1.0 - cliprange, 1.0 + cliprange);
  PolicyLoss out;
  out.loss = masked_mean(torch::max(unclipped, clipped), mask);
  out.clip_fraction = masked_mean((clipped > unclipped).to(logprobs.scalar_type()), mask).detach();
  out.approx_kl = (0.5 * masked_mean(log_ratio.pow(2), mask)).detach();
  return out;
}

ValueLoss ppo_value_loss(const torch::Tensor& values, const torch::Tensor& old_values, const torch::Tensor& returns,
                         const torch::Tensor& mask, double cliprange_value) {
  auto clipped = old_values + (values - old_values).clamp(-cliprange_value, cliprange_value);
  auto loss_unclipped = (values - returns).pow(2), loss_clipped = (clipped - returns).pow(2);
  ValueLoss out;
  out.loss = 0.5 * masked_mean(torch::max(loss_unclipped, loss_clipped), mask);
  out.clip_fraction = masked_mean((loss_clipped > loss_unclipped).to(values.scalar_type()), mask).detach();
  return out;
}

void AdaptiveKlController::update(double kl, int64_t episodes) {
  const double error = std::clamp(kl / target - 1.0, -0.2, 0.2);
  value *= 1.0 + error * static_cast<double>(episodes) / horizon;
}

}  // namespace rlhf
