#include "eval/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "common/error.h"

namespace rlhf::eval {

Proportion wilson_interval(double successes, double n, double z) {
  if (!(n >= 0) || !(successes >= 0) || successes > n)
    fail("wilson_interval", "0 <= successes <= n", std::to_string(successes) + " of " + std::to_string(n));
  Proportion p;
  p.n = n;
  if (n == 0) {
    p.value = std::numeric_limits<double>::quiet_NaN();
    p.low = 0, p.high = 1;
    return p;
  }
  p.value = successes / n;
  const double z2 = z * z;
  const double denominator = 1 + z2 / n;
  const double centre = (p.value + z2 / (2 * n)) / denominator;
  const double half = z / denominator * std::sqrt(p.value * (1 - p.value) / n + z2 / (4 * n * n));
  p.low = std::max(0.0, centre - half);
  p.high = std::min(1.0, centre + half);
  return p;
}

WinRate win_rate(const std::vector<double>& outcomes) {
  WinRate w;
  double successes = 0;
  for (double o : outcomes) {
    if (o == 1) ++w.wins;
    else if (o == 0.5) ++w.ties;
    else if (o == 0) ++w.losses;
    else fail("win_rate", "outcomes 1 (win), 0.5 (tie) or 0 (loss)", std::to_string(o));
    successes += o;
  }
  w.rate = wilson_interval(successes, static_cast<double>(outcomes.size()));
  return w;
}

MeanStderr mean_stderr(const std::vector<double>& values) {
  MeanStderr m;
  m.n = static_cast<int64_t>(values.size());
  if (values.empty()) {
    m.mean = std::numeric_limits<double>::quiet_NaN();
    return m;
  }
  double sum = 0;
  for (double v : values) sum += v;
  m.mean = sum / static_cast<double>(values.size());
  if (values.size() > 1) {
    double squares = 0;
    for (double v : values) squares += (v - m.mean) * (v - m.mean);
    const double n = static_cast<double>(values.size());
    m.standard_error = std::sqrt(squares / (n - 1) / n);
  }
  return m;
}

ToxicityAggregate aggregate_toxicity(const std::vector<std::vector<double>>& per_prompt, double threshold) {
  ToxicityAggregate a;
  std::vector<double> maxima;
  double all = 0;
  int64_t toxic_prompts = 0;
  for (const auto& samples : per_prompt) {
    if (samples.empty()) fail("aggregate_toxicity", "at least one sample per prompt", "a prompt without samples");
    double max = *std::max_element(samples.begin(), samples.end());
    maxima.push_back(max);
    toxic_prompts += max >= threshold ? 1 : 0;
    for (double t : samples) all += t;
    a.samples += static_cast<int64_t>(samples.size());
  }
  a.prompts = static_cast<int64_t>(per_prompt.size());
  if (a.prompts == 0) {
    a.expected_max_toxicity = a.toxic_probability = a.mean_toxicity = std::numeric_limits<double>::quiet_NaN();
    return a;
  }
  MeanStderr m = mean_stderr(maxima);
  a.expected_max_toxicity = m.mean;
  a.expected_max_toxicity_stderr = m.standard_error;
  a.toxic_probability = static_cast<double>(toxic_prompts) / static_cast<double>(a.prompts);
  a.mean_toxicity = all / static_cast<double>(a.samples);
  return a;
}

double normalised_entropy(const std::vector<double>& p) {
  if (p.size() < 2) fail("normalised_entropy", "at least two choices", std::to_string(p.size()));
  double total = 0;
  for (double x : p) {
    if (!(x >= 0) || !std::isfinite(x)) fail("normalised_entropy", "finite non-negative probabilities", std::to_string(x));
    total += x;
  }
  if (total <= 0) fail("normalised_entropy", "probabilities with a positive sum", "all zero");
  double h = 0;
  for (double x : p)
    if (x > 0) h -= (x / total) * std::log(x / total);
  return h / std::log(static_cast<double>(p.size()));
}

double share_higher(const std::vector<double>& first, const std::vector<double>& second) {
  if (first.size() != second.size() || first.empty())
    fail("share_higher", "two equal, non-empty lists", std::to_string(first.size()) + " and " + std::to_string(second.size()));
  size_t higher = 0;
  for (size_t i = 0; i < first.size(); ++i) higher += first[i] > second[i] ? 1 : 0;
  return static_cast<double>(higher) / static_cast<double>(first.size());
}

double auc(const std::vector<double>& positive, const std::vector<double>& negative) {
  if (positive.empty() || negative.empty()) return std::numeric_limits<double>::quiet_NaN();
  double wins = 0;
  for (double p : positive)
    for (double n : negative) wins += p > n ? 1.0 : p == n ? 0.5 : 0.0;
  return wins / (static_cast<double>(positive.size()) * static_cast<double>(negative.size()));
}

double alignment_tax(double sft, double model, bool higher_is_better) {
  return higher_is_better ? sft - model : model - sft;
}

double tax_recovered(double sft, double ppo, double ppo_ptx, bool higher_is_better) {
  const double tax_ppo = alignment_tax(sft, ppo, higher_is_better);
  if (!(tax_ppo > 0)) return std::numeric_limits<double>::quiet_NaN();
  return (tax_ppo - alignment_tax(sft, ppo_ptx, higher_is_better)) / tax_ppo;
}

double training_flops(double parameters, double tokens) { return 6 * parameters * tokens; }
double inference_flops(double parameters, double tokens) { return 2 * parameters * tokens; }
double petaflop_s_days(double flops) { return flops / (1e15 * 86400.0); }

nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

nlohmann::json proportion_json(const Proportion& p) {
  return {{"value", number_or_null(p.value)}, {"low", p.low}, {"high", p.high}, {"n", p.n}};
}

nlohmann::json proportion_json(const std::vector<double>& flags) {
  double sum = 0;
  for (double f : flags) sum += f;
  return proportion_json(wilson_interval(sum, static_cast<double>(flags.size())));
}

nlohmann::json mean_stderr_json(const std::vector<double>& values) {
  MeanStderr m = mean_stderr(values);
  return {{"mean", number_or_null(m.mean)}, {"stderr", m.standard_error}, {"n", m.n}};
}

Interval bootstrap_interval(size_t units, const std::function<double(const std::vector<size_t>&)>& statistic,
                            int resamples, uint64_t seed) {
  if (units == 0 || resamples < 1) return {NAN, NAN};
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, units - 1);
  std::vector<size_t> indices(units);
  std::vector<double> values;
  values.reserve(static_cast<size_t>(resamples));
  for (int r = 0; r < resamples; ++r) {
    for (auto& i : indices) i = pick(rng);
    const double v = statistic(indices);
    if (std::isfinite(v)) values.push_back(v);
  }
  if (static_cast<double>(values.size()) < 0.975 * resamples) return {NAN, NAN};
  std::sort(values.begin(), values.end());
  const double last = static_cast<double>(values.size() - 1);
  auto at = [&](double q) { return values[static_cast<size_t>(q * last + 0.5)]; };
  return {at(0.025), at(0.975)};
}

Interval bootstrap_mean_interval(const std::vector<double>& values, int resamples, uint64_t seed) {
  return bootstrap_interval(values.size(), [&](const std::vector<size_t>& indices) {
    double sum = 0;
    for (size_t i : indices) sum += values[i];
    return sum / static_cast<double>(values.size());
  }, resamples, seed);
}

}  // namespace rlhf::eval
