// The losses of src/train/losses.h against values worked out by hand (written out below, step by step), against
// finite differences, and against exact expectations (KL estimators). Double precision wherever a tolerance is tight.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "common/error.h"
#include "data/formats.h"
#include "train/losses.h"

namespace rlhf {
namespace {

auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

torch::Tensor t2(std::vector<std::vector<double>> rows) {
  std::vector<torch::Tensor> out;
  for (auto& r : rows) out.push_back(torch::tensor(r, f64));
  return torch::stack(out);
}

void expect_near(const torch::Tensor& got, const torch::Tensor& want, double tol, const char* what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  auto g = got.to(torch::kFloat64).contiguous(), w = want.to(torch::kFloat64).contiguous();
  for (int64_t i = 0; i < g.numel(); ++i)
    EXPECT_NEAR(g.view(-1)[i].item<double>(), w.view(-1)[i].item<double>(), tol) << what << " at flat index " << i;
}

// The 2×4 example: row 0 has four real response tokens, row 1 three (its last position is padding and holds
// garbage, 9 and 5, which must not leak into anything).
torch::Tensor gae_rewards() { return t2({{0.0, 0.0, 0.0, 1.0}, {0.1, -0.2, 0.7, 9.0}}); }
torch::Tensor gae_values() { return t2({{0.5, 0.4, 0.3, 0.2}, {0.2, 0.1, -0.1, 5.0}}); }
torch::Tensor gae_mask() { return t2({{1, 1, 1, 1}, {1, 1, 1, 0}}); }

TEST(Gae, HandComputedGammaOne) {
  // γ = 1, λ = 0.95, so γλ = 0.95.  δ_t = R_t + γ·V_{t+1} − V_t (V = 0 past the last real token), A_t = δ_t + γλ·A_{t+1}.
  // Row 0: δ3 = 1 + 0 − 0.2 = 0.8;  δ2 = 0 + 0.2 − 0.3 = −0.1;  δ1 = 0 + 0.3 − 0.4 = −0.1;  δ0 = 0 + 0.4 − 0.5 = −0.1
  //        A3 = 0.8;  A2 = −0.1 + 0.95·0.8 = 0.66;  A1 = −0.1 + 0.95·0.66 = 0.527;  A0 = −0.1 + 0.95·0.527 = 0.40065
  //        returns = A + V = 0.90065, 0.927, 0.96, 1.0
  // Row 1 (t = 3 is padding): δ2 = 0.7 + 0 − (−0.1) = 0.8;  δ1 = −0.2 + (−0.1) − 0.1 = −0.4;  δ0 = 0.1 + 0.1 − 0.2 = 0
  //        A2 = 0.8;  A1 = −0.4 + 0.95·0.8 = 0.36;  A0 = 0 + 0.95·0.36 = 0.342;  A3 = 0
  //        returns = 0.542, 0.46, 0.7, 0
  auto gae = generalized_advantages(gae_rewards(), gae_values(), gae_mask(), 1.0, 0.95);
  expect_near(gae.advantages, t2({{0.40065, 0.527, 0.66, 0.8}, {0.342, 0.36, 0.8, 0.0}}), 1e-12, "advantages");
  expect_near(gae.returns, t2({{0.90065, 0.927, 0.96, 1.0}, {0.542, 0.46, 0.7, 0.0}}), 1e-12, "returns");
}

TEST(Gae, HandComputedGammaPointNine) {
  // γ = 0.9, λ = 0.95, so γλ = 0.855.
  // Row 0: δ3 = 1 − 0.2 = 0.8;  δ2 = 0.9·0.2 − 0.3 = −0.12;  δ1 = 0.9·0.3 − 0.4 = −0.13;  δ0 = 0.9·0.4 − 0.5 = −0.14
  //        A3 = 0.8;  A2 = −0.12 + 0.855·0.8 = 0.564;  A1 = −0.13 + 0.855·0.564 = 0.35222;
  //        A0 = −0.14 + 0.855·0.35222 = 0.1611481;  returns = 0.6611481, 0.75222, 0.864, 1.0
  // Row 1: δ2 = 0.7 + 0.1 = 0.8;  δ1 = −0.2 + 0.9·(−0.1) − 0.1 = −0.39;  δ0 = 0.1 + 0.9·0.1 − 0.2 = −0.01
  //        A2 = 0.8;  A1 = −0.39 + 0.855·0.8 = 0.294;  A0 = −0.01 + 0.855·0.294 = 0.24137;  A3 = 0
  //        returns = 0.44137, 0.394, 0.7, 0
  auto gae = generalized_advantages(gae_rewards(), gae_values(), gae_mask(), 0.9, 0.95);
  expect_near(gae.advantages, t2({{0.1611481, 0.35222, 0.564, 0.8}, {0.24137, 0.294, 0.8, 0.0}}), 1e-12, "advantages");
  expect_near(gae.returns, t2({{0.6611481, 0.75222, 0.864, 1.0}, {0.44137, 0.394, 0.7, 0.0}}), 1e-12, "returns");
}

TEST(Gae, LambdaOneGammaOneIsRewardToGoMinusValue) {
  // With γ = λ = 1 the advantage telescopes to Σ_{s≥t} R_s − V_t (Monte-Carlo return minus the baseline).
  auto gae = generalized_advantages(gae_rewards(), gae_values(), gae_mask(), 1.0, 1.0);
  // Row 0: reward-to-go 1,1,1,1;  row 1: 0.6, 0.5, 0.7.
  expect_near(gae.advantages, t2({{0.5, 0.6, 0.7, 0.8}, {0.4, 0.4, 0.8, 0.0}}), 1e-12, "advantages");
  expect_near(gae.returns, t2({{1.0, 1.0, 1.0, 1.0}, {0.6, 0.5, 0.7, 0.0}}), 1e-12, "returns");
}

TEST(Whiten, HandComputed) {
  // Masked entries 1..7: mean 4, squared deviations 9+4+1+0+1+4+9 = 28, unbiased variance 28/6 = 14/3,
  // std = √(14/3) = 2.160246899469287. The padded 100 is left out and comes back as 0.
  auto x = t2({{1, 2, 3, 4}, {5, 6, 7, 100}});
  const double s = std::sqrt(14.0 / 3.0);
  auto want = t2({{-3 / s, -2 / s, -1 / s, 0}, {1 / s, 2 / s, 3 / s, 0}});
  expect_near(masked_whiten(x, gae_mask()), want, 1e-8, "whitened");
  // shift_mean = false keeps the mean (PPO.md: whitening rewards must not move their mean).
  auto kept = t2({{4 - 3 / s, 4 - 2 / s, 4 - 1 / s, 4}, {4 + 1 / s, 4 + 2 / s, 4 + 3 / s, 0}});
  expect_near(masked_whiten(x, gae_mask(), false), kept, 1e-8, "whitened, mean kept");
}

TEST(Whiten, MaskedMeanAndNll) {
  auto x = t2({{1, 2, 3, 4}, {5, 6, 7, 100}});
  EXPECT_NEAR(masked_mean(x, gae_mask()).item<double>(), 28.0 / 7.0, 1e-12);
  // NLL = −mean of the masked log-probs: −(−1 −2 −3 −4 −5 −6 −7)/7 = 4.
  EXPECT_NEAR(negative_log_likelihood(-x, gae_mask()).item<double>(), 4.0, 1e-12);
}

// −log σ(d) written out, not through torch.
double pairwise_loss(double d) { return std::log1p(std::exp(-d)); }

TEST(RankingLoss, EqualsMeanOfPairwiseLossesAndGradientMatchesFiniteDifferences) {
  // K = 4, ranking best→worst: y2, y0, y3, y1, so the C(4,2) = 6 comparisons (winner, loser) are:
  const std::vector<std::pair<int, int>> pairs = {{2, 0}, {2, 3}, {2, 1}, {0, 3}, {0, 1}, {3, 1}};
  const std::vector<double> r = {0.3, -1.2, 0.9, 0.5};
  auto rewards = torch::tensor(r, f64).requires_grad_(true);
  auto out = ranking_loss(rewards, pairs);
  double want = 0;
  for (auto [w, l] : pairs) want += pairwise_loss(r[w] - r[l]);
  want /= 6.0;
  EXPECT_NEAR(out.loss.item<double>(), want, 1e-14);
  EXPECT_EQ(out.pairs, 6);
  // r_w > r_l holds for (2,0), (2,3), (2,1), (0,1), (3,1) and fails for (0,3) (0.3 < 0.5).
  EXPECT_EQ(out.correct, 5);

  out.loss.backward();
  auto grad = rewards.grad();
  const double h = 1e-6;
  for (int k = 0; k < 4; ++k) {
    auto loss_at = [&](double delta) {
      auto shifted = r;
      shifted[k] += delta;
      double sum = 0;
      for (auto [w, l] : pairs) sum += pairwise_loss(shifted[w] - shifted[l]);
      return sum / 6.0;
    };
    const double numeric = (loss_at(h) - loss_at(-h)) / (2 * h);
    EXPECT_NEAR(grad[k].item<double>(), numeric, 1e-8) << "d loss / d r_" << k;
  }
  // The gradient of a sum of differences sums to zero: shifting all K rewards changes nothing.
  EXPECT_NEAR(grad.sum().item<double>(), 0.0, 1e-14);
}

TEST(RankingLoss, TiesAreLeftOutOfTheSumButNotOfTheCK2Normaliser) {
  // ranks 1 (best), 1, 2, 3: y0 and y1 tie, so C(4,2) = 6 minus 1 = 5 comparisons.
  RankingExample ex;
  ex.responses = {"a", "b", "c", "d"};
  ex.ranks = {0, 0, 1, 2};
  std::vector<std::pair<int, int>> pairs;
  for (const auto& c : comparisons(ex)) pairs.emplace_back(c.winner, c.loser);
  const std::vector<std::pair<int, int>> want = {{0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
  EXPECT_EQ(pairs, want);
  // The loss sums those five and divides by C(4,2) = 6, the paper's normaliser: the tie is a comparison that adds
  // nothing (a hypothetical tie "pair" would have added log 2 at equal rewards), so each untied pair of a prompt
  // weighs 1/6 however many ties it has beside it, not 1/5.
  const std::vector<double> r = {0.7, 0.7, -0.1, 0.4};
  auto out = ranking_loss(torch::tensor(r, f64), pairs);
  double sum = 0;
  for (auto [w, l] : want) sum += pairwise_loss(r[w] - r[l]);
  EXPECT_NEAR(out.loss.item<double>(), sum / 6.0, 1e-14);
  EXPECT_EQ(out.pairs, 5);
  EXPECT_EQ(out.correct, 4);  // (2,3) is wrong: −0.1 < 0.4
  // All tied: no comparison, a clear error rather than a NaN.
  EXPECT_THROW(ranking_loss(torch::tensor(r, f64), {}), Error);
}

TEST(RankingLoss, BatchWeighsEachPromptEqually) {
  // Prompt A: K = 2 (one pair); prompt B: K = 3 (three pairs). The batch loss is (loss_A + loss_B) / 2, not the
  // mean over all four pairs.
  auto rewards = torch::tensor(std::vector<double>{1.0, 0.0, 0.2, -0.4, 0.8}, f64).requires_grad_(true);
  auto out = ranking_loss_batch(rewards, {0, 2}, {{{0, 1}}, {{0, 1}, {0, 2}, {1, 2}}});
  const double loss_a = pairwise_loss(1.0);
  const double loss_b = (pairwise_loss(0.6) + pairwise_loss(-0.6) + pairwise_loss(-1.2)) / 3.0;
  EXPECT_NEAR(out.loss.item<double>(), (loss_a + loss_b) / 2.0, 1e-14);
  EXPECT_EQ(out.pairs, 4);
  EXPECT_EQ(out.correct, 2);
}

TEST(KlEstimate, HandValues) {
  // log π = −1, log π_SFT = −2: k1 = 1;  k3 = (ρ − 1) − log ρ with ρ = e^{−1}: e^{−1} − 1 + 1 = 0.36787944117144233.
  auto lp = torch::tensor(std::vector<double>{-1.0, -2.0, -0.5}, f64);
  auto ref = torch::tensor(std::vector<double>{-2.0, -1.0, -0.5}, f64);
  expect_near(kl_estimate(lp, ref, "k1"), torch::tensor(std::vector<double>{1.0, -1.0, 0.0}, f64), 1e-15, "k1");
  // second: ρ = e^{1}: e − 1 − 1 = 0.7182818284590451;  third: ρ = 1: 0.
  expect_near(kl_estimate(lp, ref, "k3"),
              torch::tensor(std::vector<double>{std::exp(-1.0), std::exp(1.0) - 2.0, 0.0}, f64), 1e-15, "k3");
  EXPECT_THROW(kl_estimate(lp, ref, "k2x"), Error);
}

TEST(KlEstimate, BothEstimatorsAreUnbiasedForTheExactKl) {
  // Sample tokens from π over a 5-token vocabulary; the mean of k1 and of k3 at the samples converges to
  // KL(π‖π_SFT) = Σ π log(π/π_SFT). Tolerance: 5 standard errors of each estimator's sample mean.
  auto pi = torch::tensor(std::vector<double>{0.4, 0.3, 0.15, 0.1, 0.05}, f64);
  auto ref = torch::tensor(std::vector<double>{0.2, 0.2, 0.2, 0.2, 0.2}, f64);
  const double exact = (pi * (pi.log() - ref.log())).sum().item<double>();
  auto generator = at::make_generator<at::CPUGeneratorImpl>(3);
  const int64_t n = 200000;
  auto tokens = torch::multinomial(pi, n, true, generator);
  auto lp = pi.log().index_select(0, tokens), ref_lp = ref.log().index_select(0, tokens);
  for (const char* estimator : {"k1", "k3"}) {
    auto k = kl_estimate(lp, ref_lp, estimator);
    const double standard_error = k.std().item<double>() / std::sqrt(static_cast<double>(n));
    EXPECT_NEAR(k.mean().item<double>(), exact, 5 * standard_error) << estimator;
  }
  EXPECT_GE(kl_estimate(lp, ref_lp, "k3").min().item<double>(), 0.0);  // k3 is never negative
}

TEST(PerTokenRewards, ScoreOnLastRealTokenKlPenaltyEverywhere) {
  auto kl = t2({{0.1, 0.2, -0.3, 0.4}, {0.5, 1.0, 2.0, 7.0}});
  auto score = torch::tensor(std::vector<double>{3.0, -2.0}, f64);
  const double beta = 0.5;
  // Row 0: −β·KL = −0.05, −0.1, 0.15, −0.2, and the score 3 on the last token: 2.8.
  // Row 1: last real token is t = 2: −0.25, −0.5, −1 − 2 = −3; the pad position gets nothing.
  auto want = t2({{-0.05, -0.1, 0.15, 2.8}, {-0.25, -0.5, -3.0, 0.0}});
  expect_near(per_token_rewards(score, kl, gae_mask(), beta), want, 1e-12, "rewards");
  // A response cut to one token gets its score there.
  auto one = per_token_rewards(torch::tensor(std::vector<double>{1.5}, f64), t2({{0.2, 9, 9}}), t2({{1, 0, 0}}), 1.0);
  expect_near(one, t2({{1.3, 0, 0}}), 1e-12, "one-token response");
}

TEST(PolicyLoss, ClippedSurrogateOnHandMadeTokens) {
  const double eps = 0.2;
  // Ratios ρ (log-ratios are log ρ) and advantages A per token; loss_t = max(−A·ρ, −A·clip(ρ, 0.8, 1.2)):
  //  t0: ρ = 1.5, A = +1: max(−1.5, −1.2) = −1.2  clipped (no push past 1+ε), gradient 0
  //  t1: ρ = 1.5, A = −1: max( 1.5,  1.2) =  1.5  unclipped (pessimistic), d/dlogπ = −A·ρ = 1.5
  //  t2: ρ = 0.5, A = +1: max(−0.5, −0.8) = −0.5  unclipped, d/dlogπ = −0.5
  //  t3: ρ = 0.5, A = −1: max( 0.5,  0.8) =  0.8  clipped, gradient 0
  //  t4: ρ = 1.1, A = +2: max(−2.2, −2.2) = −2.2  inside the range, d/dlogπ = −2.2
  //  t5: masked out (ρ = 3, A = 5): ignored
  // loss = (−1.2 + 1.5 − 0.5 + 0.8 − 2.2) / 5 = −0.32; clip fraction = 2/5 (t0, t3).
  std::vector<double> ratios = {1.5, 1.5, 0.5, 0.5, 1.1, 3.0};
  std::vector<double> log_ratios;
  for (double r : ratios) log_ratios.push_back(std::log(r));
  auto old_logprobs = torch::tensor(std::vector<double>{-1.0, -2.0, -0.5, -3.0, -1.5, -0.2}, f64).view({1, 6});
  auto logprobs = (old_logprobs + torch::tensor(log_ratios, f64).view({1, 6})).detach().requires_grad_(true);
  auto advantages = torch::tensor(std::vector<double>{1, -1, 1, -1, 2, 5}, f64).view({1, 6});
  auto mask = torch::tensor(std::vector<double>{1, 1, 1, 1, 1, 0}, f64).view({1, 6});
  auto out = ppo_policy_loss(logprobs, old_logprobs, advantages, mask, eps);
  EXPECT_NEAR(out.loss.item<double>(), -0.32, 1e-12);
  EXPECT_NEAR(out.clip_fraction.item<double>(), 0.4, 1e-12);
  // approx-KL = ½·mean((log ρ)²) over the five real tokens.
  double sq = 0;
  for (int i = 0; i < 5; ++i) sq += log_ratios[i] * log_ratios[i];
  EXPECT_NEAR(out.approx_kl.item<double>(), 0.5 * sq / 5, 1e-12);
  out.loss.backward();
  expect_near(logprobs.grad(), torch::tensor(std::vector<double>{0, 1.5, -0.5, 0, -2.2, 0}, f64).view({1, 6}) / 5.0,
              1e-12, "policy gradient");
}

TEST(ValueLoss, ClippedValueLossOnHandMadeTokens) {
  const double eps = 0.2;
  // V_clip = V_old + clip(V − V_old, ±0.2); loss_t = max((V − R)², (V_clip − R)²):
  //  t0: V = 1.0, V_old = 0.5, R = 1.0: V_clip = 0.7: max(0, 0.09) = 0.09   clipped term taken
  //  t1: V = 0.6, V_old = 0.5, R = 1.0: inside: 0.16
  //  t2: V = 0.0, V_old = 0.5, R = 1.0: V_clip = 0.3: max(1, 0.49) = 1      unclipped
  //  t3: masked out
  // loss = ½·(0.09 + 0.16 + 1)/3 = 0.208333…; clip fraction 1/3.
  auto values = torch::tensor(std::vector<double>{1.0, 0.6, 0.0, 4.0}, f64).view({1, 4}).requires_grad_(true);
  auto old_values = torch::tensor(std::vector<double>{0.5, 0.5, 0.5, 0.0}, f64).view({1, 4});
  auto returns = torch::tensor(std::vector<double>{1.0, 1.0, 1.0, -3.0}, f64).view({1, 4});
  auto mask = torch::tensor(std::vector<double>{1, 1, 1, 0}, f64).view({1, 4});
  auto out = ppo_value_loss(values, old_values, returns, mask, eps);
  EXPECT_NEAR(out.loss.item<double>(), 0.5 * 1.25 / 3.0, 1e-12);
  EXPECT_NEAR(out.clip_fraction.item<double>(), 1.0 / 3.0, 1e-12);
  out.loss.backward();
  // d/dV: t0 clipped → 0; t1: ½·2·(0.6 − 1)/3; t2: ½·2·(0 − 1)/3.
  expect_near(values.grad(), torch::tensor(std::vector<double>{0, -0.4 / 3, -1.0 / 3, 0}, f64).view({1, 4}), 1e-12,
              "value gradient");
}

TEST(AdaptiveKl, ZieglerUpdate) {
  // β ← β·(1 + clip(KL/target − 1, −0.2, 0.2)·n/horizon), the formula of Ziegler et al. (2019) and TRL.
  AdaptiveKlController above{0.1, 6.0, 10000.0};
  above.update(9.0, 64);  // error 0.5 → clipped to 0.2: β·(1 + 0.2·64/10000) = 0.1·1.00128
  EXPECT_NEAR(above.value, 0.100128, 1e-15);
  AdaptiveKlController below{0.1, 6.0, 10000.0};
  below.update(3.0, 64);  // error −0.5 → −0.2: 0.1·0.99872
  EXPECT_NEAR(below.value, 0.099872, 1e-15);
  AdaptiveKlController near{0.1, 6.0, 10000.0};
  near.update(6.6, 64);  // error 0.1, inside the clip: 0.1·(1 + 0.1·0.0064) = 0.100064
  EXPECT_NEAR(near.value, 0.100064, 1e-15);
  near.update(6.0, 1000);  // on target: unchanged
  EXPECT_NEAR(near.value, 0.100064, 1e-15);
}

}  // namespace
}  // namespace rlhf
