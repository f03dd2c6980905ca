#include "eval/length_control.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "eval/stats.h"

namespace rlhf::eval {

namespace {

double sigmoid(double z) { return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z)); }

// log σ(z) and log(1 - σ(z)) = log σ(-z), without overflow.
double log_sigmoid(double z) { return z >= 0 ? -std::log1p(std::exp(-z)) : z - std::log1p(std::exp(z)); }

double objective(const std::vector<double>& x, const std::vector<double>& y, double l2, double a, double b) {
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double z = a + b * x[i];
    sum += y[i] * log_sigmoid(z) + (1 - y[i]) * log_sigmoid(-z);
  }
  return sum - 0.5 * l2 * b * b;
}

double population_sd(const std::vector<double>& values, double mean) {
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  return values.empty() ? 0 : std::sqrt(squares / static_cast<double>(values.size()));
}

// The fit on the prompts `indices` picks (with repeats), the covariate scaled by their own standard deviation.
LogisticFit fit_scaled(const std::vector<double>& outcomes, const std::vector<double>& differences,
                       const std::vector<size_t>& indices, double l2, double* sd_out = nullptr) {
  std::vector<double> x, y;
  x.reserve(indices.size()), y.reserve(indices.size());
  double mean = 0;
  for (size_t i : indices) x.push_back(differences[i]), y.push_back(outcomes[i]), mean += differences[i];
  mean /= static_cast<double>(std::max<size_t>(1, indices.size()));
  const double sd = population_sd(x, mean);
  for (auto& v : x) v = sd > 0 ? v / sd : 0;  // all equally long: no covariate, the slope stays 0
  if (sd_out) *sd_out = sd;
  return fit_logistic(x, y, l2);
}

}  // namespace

LogisticFit fit_logistic(const std::vector<double>& x, const std::vector<double>& y, double l2) {
  if (x.size() != y.size()) fail("fit_logistic", "as many outcomes as covariates", std::to_string(y.size()) + " and " + std::to_string(x.size()));
  if (!(l2 >= 0)) fail("fit_logistic", "a ridge l2 >= 0", std::to_string(l2));
  for (double v : y)
    if (!(v >= 0 && v <= 1)) fail("fit_logistic", "outcomes in [0, 1]", std::to_string(v));
  LogisticFit fit;
  if (x.empty()) {
    fit.intercept = fit.slope = std::numeric_limits<double>::quiet_NaN();
    return fit;
  }
  const double n = static_cast<double>(x.size());
  double mean_y = 0;
  for (double v : y) mean_y += v;
  mean_y /= n;
  const double start = std::clamp(mean_y, 1e-6, 1 - 1e-6);
  double a = std::log(start / (1 - start)), b = 0;
  double current = objective(x, y, l2, a, b);
  constexpr int kMostIterations = 100;
  for (fit.iterations = 0; fit.iterations < kMostIterations; ++fit.iterations) {
    // Gradient g and the negated Hessian H of the objective at (a, b), w_i = p_i (1 - p_i).
    double ga = 0, gb = -l2 * b, haa = 0, hab = 0, hbb = l2;
    for (size_t i = 0; i < x.size(); ++i) {
      const double p = sigmoid(a + b * x[i]), w = p * (1 - p), r = y[i] - p;
      ga += r, gb += r * x[i];
      haa += w, hab += w * x[i], hbb += w * x[i] * x[i];
    }
    if (std::abs(ga) + std::abs(gb) < 1e-10 * n) {
      fit.converged = true;
      break;
    }
    const double det = haa * hbb - hab * hab;
    if (!(det > 0)) break;  // a flat direction (l2 = 0 and no spread in x, or every p at 0 or 1)
    double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    // A step that lowers the objective (beyond rounding) is halved.
    const double tolerance = 1e-12 * (1 + std::abs(current));
    double step = 1;
    double next = objective(x, y, l2, a + da, b + db);
    while (next < current - tolerance && step > 1e-8) {
      step /= 2;
      next = objective(x, y, l2, a + step * da, b + step * db);
    }
    if (next < current - tolerance) break;
    a += step * da, b += step * db;
    current = next;
    if (std::abs(step * da) + std::abs(step * db) < 1e-12) {
      fit.converged = true;
      break;
    }
  }
  fit.intercept = a, fit.slope = b;
  return fit;
}

LengthControlledWinRate length_controlled_win_rate(const std::vector<double>& outcomes,
                                                   const std::vector<double>& length_differences, int resamples,
                                                   uint64_t seed, double l2) {
  if (outcomes.size() != length_differences.size())
    fail("length_controlled_win_rate", "a length difference per outcome",
         std::to_string(outcomes.size()) + " outcomes and " + std::to_string(length_differences.size()) + " differences");
  LengthControlledWinRate r;
  r.n = outcomes.size();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (outcomes.empty()) {
    r.value = r.low = r.high = r.slope = nan;
    return r;
  }
  std::vector<size_t> all(outcomes.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const LogisticFit fit = fit_scaled(outcomes, length_differences, all, l2, &r.length_difference_sd);
  r.value = sigmoid(fit.intercept);
  r.slope = fit.slope;
  for (double d : length_differences) r.mean_length_difference += d;
  r.mean_length_difference /= static_cast<double>(r.n);
  const Interval ci = bootstrap_interval(r.n, [&](const std::vector<size_t>& indices) {
    return sigmoid(fit_scaled(outcomes, length_differences, indices, l2).intercept);
  }, resamples, seed);
  r.low = ci.low, r.high = ci.high;
  return r;
}

}  // namespace rlhf::eval
