// The length-controlled win rate (eval/length_control.h): the logistic fit against closed forms and against LibTorch's
// L-BFGS on the same penalised likelihood (autograd gradients, another optimiser); a win that length explains comes
// out near 0.5 while the raw win rate is high; a win independent of length keeps its raw rate; and labeler_preference
// reports it from the judge's outcomes and the checker's word counts.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <random>

#include <torch/torch.h>

#include "test_judges.h"
#include "common/error.h"
#include "eval/length_control.h"
#include "eval/preference.h"
#include "eval/stats.h"

namespace rlhf::eval {
namespace {

using json = nlohmann::json;

double sigmoid(double z) { return 1 / (1 + std::exp(-z)); }
double logit(double p) { return std::log(p / (1 - p)); }
double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// The reference: maximise the same penalised log-likelihood with torch's L-BFGS (strong Wolfe line search) in double.
std::pair<double, double> torch_fit(const std::vector<double>& x, const std::vector<double>& y, double l2) {
  auto options = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor xs = torch::tensor(x, options), ys = torch::tensor(y, options);
  torch::Tensor params = torch::zeros({2}, options.requires_grad(true));
  torch::optim::LBFGS optimiser({params}, torch::optim::LBFGSOptions(1.0).max_iter(500).tolerance_grad(1e-12)
                                              .tolerance_change(1e-15).line_search_fn("strong_wolfe"));
  auto closure = [&] {
    optimiser.zero_grad();
    torch::Tensor z = params[0] + params[1] * xs;
    // -[y log σ(z) + (1 - y) log σ(-z)] summed, + l2/2 · slope²
    torch::Tensor loss = -(ys * torch::log_sigmoid(z) + (1 - ys) * torch::log_sigmoid(-z)).sum() +
                         0.5 * l2 * params[1] * params[1];
    loss.backward();
    return loss;
  };
  for (int i = 0; i < 5; ++i) optimiser.step(closure);
  return {params[0].item<double>(), params[1].item<double>()};
}

TEST(LogisticFit, TwoGroupsUnpenalisedFitEachGroupsShareExactly) {
  // x = +1: 30 wins, 4 ties, 6 losses of 40 (share 0.8); x = -1: 8 wins, 4 ties, 28 losses (share 0.25).
  std::vector<double> x, y;
  for (int i = 0; i < 40; ++i) x.push_back(1), y.push_back(i < 30 ? 1 : i < 34 ? 0.5 : 0);
  for (int i = 0; i < 40; ++i) x.push_back(-1), y.push_back(i < 8 ? 1 : i < 12 ? 0.5 : 0);
  const LogisticFit fit = fit_logistic(x, y, 0);
  ASSERT_TRUE(fit.converged);
  EXPECT_NEAR(sigmoid(fit.intercept + fit.slope), 0.8, 1e-9);
  EXPECT_NEAR(sigmoid(fit.intercept - fit.slope), 0.25, 1e-9);
  EXPECT_NEAR(fit.intercept, (logit(0.8) + logit(0.25)) / 2, 1e-9);
}

TEST(LogisticFit, MirroredDataHasInterceptZeroAndNoCovariateGivesTheMean) {
  // (x, y) and (-x, 1 - y) both present: the fit is odd in x, so σ(intercept) = 0.5 at every ridge.
  std::vector<double> x = {3, 1, 0.5, 2, -3, -1, -0.5, -2}, y = {1, 0.5, 0, 1, 0, 0.5, 1, 0};
  for (double l2 : {0.0, 1.0, 10.0}) EXPECT_NEAR(fit_logistic(x, y, l2).intercept, 0, 1e-10) << l2;
  // x = 0 everywhere: the slope stays 0 and σ(intercept) is the mean outcome.
  const LogisticFit flat = fit_logistic({0, 0, 0, 0, 0}, {1, 1, 0.5, 0, 1}, 1.0);
  EXPECT_NEAR(sigmoid(flat.intercept), 0.7, 1e-9);
  EXPECT_EQ(flat.slope, 0);
  EXPECT_THROW(fit_logistic({0, 1}, {1, 2}, 1.0), Error);
  EXPECT_THROW(fit_logistic({0, 1}, {1}, 1.0), Error);
}

TEST(LogisticFit, MatchesTorchLbfgsOnThePenalisedLikelihood) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.3, 1.2);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<double> x, y;
  for (int i = 0; i < 300; ++i) {
    x.push_back(normal(rng));
    const double p = sigmoid(0.4 + 0.9 * x.back()), u = uniform(rng);
    y.push_back(u < 0.1 ? 0.5 : u < 0.1 + 0.9 * p ? 1.0 : 0.0);  // ties too
  }
  for (double l2 : {0.0, 1.0, 25.0}) {
    const LogisticFit fit = fit_logistic(x, y, l2);
    const auto [intercept, slope] = torch_fit(x, y, l2);
    EXPECT_TRUE(fit.converged) << l2;
    EXPECT_NEAR(fit.intercept, intercept, 1e-6) << l2;
    EXPECT_NEAR(fit.slope, slope, 1e-6) << l2;
  }
  // A covariate that separates wins from losses: no finite maximum without the ridge; with it, the reference's.
  std::vector<double> sx = {-2, -1, -0.5, 0.5, 1, 2, 3}, sy = {0, 0, 0, 1, 1, 1, 1};
  const LogisticFit separated = fit_logistic(sx, sy, 1.0);
  const auto [intercept, slope] = torch_fit(sx, sy, 1.0);
  EXPECT_TRUE(separated.converged);
  EXPECT_NEAR(separated.intercept, intercept, 1e-6);
  EXPECT_NEAR(separated.slope, slope, 1e-6);
}

// Prompts whose model response is `shift` ± 15 words longer than the baseline's, and outcomes drawn with
// P(win) = σ(intercept + gain · difference / 15).
void draw(int n, double shift, double intercept, double gain, uint64_t seed, std::vector<double>& outcomes,
          std::vector<double>& differences) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> length(shift, 15);
  std::uniform_real_distribution<double> uniform(0, 1);
  for (int i = 0; i < n; ++i) {
    differences.push_back(std::round(length(rng)));
    outcomes.push_back(uniform(rng) < sigmoid(intercept + gain * differences.back() / 15) ? 1.0 : 0.0);
  }
}

TEST(LengthControlledWinRate, AWinThatLengthExplainsComesOutNearHalf) {
  // The model writes longer on most prompts and labelers prefer longer: equally long, it would win half the time.
  std::vector<double> outcomes, differences;
  draw(2000, 20, 0, 1.5, 11, outcomes, differences);
  const LengthControlledWinRate lc = length_controlled_win_rate(outcomes, differences, 500, 3);
  EXPECT_GT(mean(outcomes), 0.75);
  EXPECT_NEAR(lc.value, 0.5, 0.05);
  EXPECT_LT(lc.low, 0.5);
  EXPECT_GT(lc.high, 0.5);
  EXPECT_GT(lc.slope, 1);
  EXPECT_EQ(lc.n, 2000u);
}

TEST(LengthControlledWinRate, AWinIndependentOfLengthKeepsTheRawRate) {
  std::vector<double> outcomes, differences;
  draw(2000, 20, logit(0.7), 0, 12, outcomes, differences);
  const LengthControlledWinRate lc = length_controlled_win_rate(outcomes, differences, 500, 3);
  EXPECT_NEAR(lc.value, mean(outcomes), 0.05);
  EXPECT_LT(lc.low, mean(outcomes));
  EXPECT_GT(lc.high, mean(outcomes));
  EXPECT_GT(lc.low, 0.6);
  // Equally long everywhere: exactly the raw rate, ties counted half.
  const std::vector<double> ties = {1, 0.5, 0, 1, 1};
  EXPECT_NEAR(length_controlled_win_rate(ties, {0, 0, 0, 0, 0}, 200, 3).value, 0.7, 1e-9);
  EXPECT_TRUE(std::isnan(length_controlled_win_rate({}, {}, 200, 3).value));
  EXPECT_THROW(length_controlled_win_rate({1, 0}, {3}, 200, 3), Error);
}

// A judge whose labelers prefer the longer response on four records of five and the shorter on the fifth; a record
// says which ("shorter_wins"). Words are counted by the checker.
class LengthJudge : public StubJudge {
 public:
  std::string description() const override { return "prefers length"; }
  double compare(const json& record, const std::string& response, const std::string& baseline, LabelerSet) const override {
    if (response == baseline) return 0.5;
    const bool longer = check(record, response).words > check(record, baseline).words;
    return longer != record["shorter_wins"].get<bool>() ? 1.0 : 0.0;
  }
  JudgeFeatures check(const json&, const std::string& response) const override {
    JudgeFeatures f;
    f.words = static_cast<int>(std::count(response.begin(), response.end(), ' ')) + 1;
    return f;
  }
};

TEST(LengthControlledWinRate, LabelerPreferenceReportsItBesideTheRawRate) {
  // 100 prompts: the model is 5 words longer than SFT on 80, 5 shorter on 20; labelers take the longer one on 4 of 5.
  // Raw: 0.8·0.8 + 0.2·0.2 = 0.68. Per group the model wins 0.8 (longer) and 0.2 (shorter): at equal length, 0.5.
  std::vector<json> records;
  ModelResponses model{"ppo", {}}, sft{"sft", {}};
  for (int i = 0; i < 100; ++i) {
    records.push_back({{"prompt", "p"}, {"shorter_wins", i % 5 == 0}});
    const bool longer = i < 80;  // labelers take the shorter on i % 5 == 0: 16 of the 80, 4 of the 20
    sft.responses.push_back("a b c d e f g h i j");
    model.responses.push_back(longer ? "a b c d e f g h i j k l m n o" : "a b c d e");
  }
  LengthJudge judge;
  PreferenceOutcomes outcomes;
  const json out = labeler_preference(judge, records, {model, sft}, sft, &outcomes);
  for (const std::string set : {"training", "held_out"}) {
    const json& entry = out["models"]["ppo"][set];
    EXPECT_NEAR(entry["win_rate"]["value"].get<double>(), 0.68, 1e-12) << set;
    const json& lc = entry["win_rate_length_controlled"];
    EXPECT_NEAR(lc["value"].get<double>(), 0.5, 0.02) << lc.dump();
    EXPECT_EQ(lc["n"].get<int>(), 100);
    EXPECT_NEAR(lc["mean_length_difference"].get<double>(), 0.8 * 5 - 0.2 * 5, 1e-12);
    ASSERT_TRUE(lc["ci"].is_array());
    EXPECT_LT(lc["ci"][0].get<double>(), 0.5);
    EXPECT_GT(lc["ci"][1].get<double>(), 0.5);
    EXPECT_EQ(outcomes["ppo"][set].size(), 100u);
    EXPECT_DOUBLE_EQ(mean(outcomes["ppo"][set]), 0.68);
  }
  // SFT against itself: every prompt a tie of equal length.
  EXPECT_DOUBLE_EQ(out["models"]["sft"]["held_out"]["win_rate_length_controlled"]["value"].get<double>(), 0.5);
}

}  // namespace
}  // namespace rlhf::eval
