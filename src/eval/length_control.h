// The length-controlled win rate (AlpacaEval 2's answer to "length alone reproduces much of RLHF's apparent gain",
// Dubois et al. 2024): labelers who like longer responses hand a longer-writing model wins that say nothing about
// whether it does the task better. Regress each prompt's outcome against the baseline on the length difference and
// read off the win rate the fit predicts where the two responses are equally long.
#pragma once
#include <cstdint>
#include <vector>

namespace rlhf::eval {

// Logistic regression of outcomes y ∈ [0, 1] (a tie is 0.5: the likelihood is then the binomial quasi-likelihood) on one
// covariate x, P(y = 1 | x) = σ(intercept + slope·x), maximising
//   Σ_i [y_i log p_i + (1 - y_i) log(1 - p_i)] - (l2 / 2)·slope²
// by Newton's method on the two parameters (the objective is concave; a step that lowers it is halved). The slope's
// ridge keeps the fit finite when x separates wins from losses (the intercept is not penalised, as in scikit-learn's
// LogisticRegression with C = 1 / l2). With l2 = 0 and a separable x the fit runs to its iteration limit: converged false.
struct LogisticFit {
  double intercept = 0, slope = 0;
  int iterations = 0;
  bool converged = false;
};
LogisticFit fit_logistic(const std::vector<double>& x, const std::vector<double>& y, double l2);

// The slope's ridge of the length-controlled fit: a N(0, 1) prior on the change in log-odds per standard deviation of
// length difference; against the likelihood of a few hundred prompts it only matters where the fit would diverge.
constexpr double kLengthControlRidge = 1.0;

// outcomes[i]: the model's outcome against the baseline on prompt i (1 win, 0.5 tie, 0 loss);
// length_differences[i]: the model's response's words minus the baseline's. The fit's covariate is the difference over
// its standard deviation over the prompts (not centred: zero must stay "equally long"), and the length-controlled win
// rate is σ(intercept), with a 95 % percentile bootstrap interval over prompts (each resample refitted, its own standard
// deviation). Equal lengths everywhere leave the slope at 0 and the value at the raw win rate.
struct LengthControlledWinRate {
  double value = 0, low = 0, high = 0;  // NaN when there are no prompts; low/high NaN without an interval
  double slope = 0;                     // log-odds per standard deviation of length difference
  double length_difference_sd = 0;      // words
  double mean_length_difference = 0;    // words
  size_t n = 0;
};
LengthControlledWinRate length_controlled_win_rate(const std::vector<double>& outcomes,
                                                   const std::vector<double>& length_differences, int resamples,
                                                   uint64_t seed, double l2 = kLengthControlRidge);

}  // namespace rlhf::eval
