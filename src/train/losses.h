// Every loss of the three stages, each written once beside the formula it implements (paper symbols: x prompt,
// y response, π_φ policy, π_SFT reference, r_θ reward model, V value model, β KL coefficient, γ ptx coefficient).
// Shapes: B sequences, N response positions; `mask` is 1 on real response tokens.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "infer/batch.h"

namespace rlhf {

// Token-level masked mean: Σ mask·x / Σ mask (TRL, OpenRLHF and DeepSpeed-Chat all aggregate this way).
torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& mask);
// Whitening over the masked entries: (x − mean) / std, keeping the mean when shift_mean is false (PPO.md).
torch::Tensor masked_whiten(const torch::Tensor& x, const torch::Tensor& mask, bool shift_mean = true);

// SFT and ptx: L = −(1/|y|) Σ_t log π(y_t | x, y_<t), the mean negative log-likelihood over response (or text) tokens;
// prompt tokens have mask 0 and add nothing.
torch::Tensor negative_log_likelihood(const torch::Tensor& logprobs, const torch::Tensor& mask);
// The same over a batch's loss-masked tokens, from one forward of `model` (SFT, pretraining and ptx all use it).
torch::Tensor language_model_loss(TransformerImpl& model, const PaddedBatch& batch);
// The same loss with what TRL logs beside it: of the `tokens` loss-masked targets, `correct` are the model's most likely
// next token (mean_token_accuracy = correct / tokens).
struct LanguageModelLoss {
  torch::Tensor loss;
  double correct = 0, tokens = 0;
};
LanguageModelLoss language_model_loss_and_accuracy(TransformerImpl& model, const PaddedBatch& batch);

// Reward model on K ranked responses of one prompt (InstructGPT eq. 1):
//   loss(θ) = −1/C(K,2) · Σ_{(y_w, y_l)} log σ(r_θ(x, y_w) − r_θ(x, y_l))
// `rewards` [K] are the K responses' rewards (one forward each); `pairs` are the (winner, loser) indices, ties left out:
// the sum runs over the untied pairs and is still divided by C(K,2), so a tie counts as a comparison with zero loss.
// A batch's loss is the mean of its prompts' losses (`ranking_loss_batch`). Accuracy = share of pairs with r_w > r_l.
struct RankingLoss {
  torch::Tensor loss;   // scalar, differentiable
  int64_t pairs = 0;    // comparisons counted
  int64_t correct = 0;  // comparisons where r_w > r_l
  double margin_sum = 0;  // Σ (r_w − r_l) over them (TRL's `margin` is its mean)
};
RankingLoss ranking_loss(const torch::Tensor& rewards, const std::vector<std::pair<int, int>>& pairs);
// rewards [ΣK] for all prompts of a batch, `offsets[i]` = index of prompt i's first response.
RankingLoss ranking_loss_batch(const torch::Tensor& rewards, const std::vector<int64_t>& offsets,
                               const std::vector<std::vector<std::pair<int, int>>>& pairs);

// Per-token KL estimate between the policy and the reference at the sampled tokens (Schulman's estimators):
//   k1 = log π_φ − log π_SFT;   k3 = (ρ − 1) − log ρ with ρ = π_SFT / π_φ.
torch::Tensor kl_estimate(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs, const std::string& estimator);

// Per-token rewards of PPO (PPO.md): R_t = −β·KL_t at every response token, plus the RM score r_θ(x, y) at the last one.
// score [B], kl [B, N], mask [B, N] -> [B, N].
torch::Tensor per_token_rewards(const torch::Tensor& score, const torch::Tensor& kl, const torch::Tensor& mask,
                                double kl_coef);

// GAE (Schulman et al. 2016), backwards over response positions:
//   δ_t = R_t + γ·V_{t+1} − V_t,   A_t = δ_t + γλ·A_{t+1},   returns_t = A_t + V_t;  V and A are 0 past the end.
struct Advantages {
  torch::Tensor advantages;  // [B, N]
  torch::Tensor returns;     // [B, N]
};
Advantages generalized_advantages(const torch::Tensor& rewards, const torch::Tensor& values, const torch::Tensor& mask,
                                  double gamma, double lam);

// Clipped surrogate (Schulman et al. 2017): ρ_t = exp(log π_φ − log π_old) (log ρ clamped to ±20),
//   L_policy = masked_mean( max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)) ).
struct PolicyLoss {
  torch::Tensor loss;
  torch::Tensor clip_fraction;  // share of tokens where the clipped term was taken
  torch::Tensor approx_kl;      // ½·masked_mean((log ρ)²), the usual diagnostic
};
PolicyLoss ppo_policy_loss(const torch::Tensor& logprobs, const torch::Tensor& old_logprobs,
                           const torch::Tensor& advantages, const torch::Tensor& mask, double cliprange);

// Clipped value loss: V_clip = V_old + clip(V − V_old, ±ε_v);  L_V = ½·masked_mean( max((V − R)², (V_clip − R)²) ).
struct ValueLoss {
  torch::Tensor loss;
  torch::Tensor clip_fraction;
};
ValueLoss ppo_value_loss(const torch::Tensor& values, const torch::Tensor& old_values, const torch::Tensor& returns,
                         const torch::Tensor& mask, double cliprange_value);

// Ziegler et al. (2019) adaptive KL: β ← β·(1 + clip(KL/target − 1, −0.2, 0.2)·n/horizon), KL = the mean over responses
// of the summed per-token KL, n = episodes in the batch.
struct AdaptiveKlController {
  double value;
  double target;
  double horizon;
  void update(double kl, int64_t episodes);
};

}  // namespace rlhf
