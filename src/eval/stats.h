// The arithmetic behind every number of the report, kept apart from models so it can be checked by hand: win rates with
// Wilson intervals, toxicity aggregates, normalised pronoun entropy, stereotype share, the alignment tax, FLOPs.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::eval {

// A binomial proportion with its Wilson score interval (Wilson 1927): for p̂ = successes / n and z,
//   centre = (p̂ + z²/2n) / (1 + z²/n),  half-width = z / (1 + z²/n) · sqrt(p̂(1-p̂)/n + z²/4n²).
// Successes may be fractional (ties counted as half a win).
struct Proportion {
  double value = 0;  // p̂
  double low = 0, high = 0;
  double n = 0;
};
Proportion wilson_interval(double successes, double n, double z = 1.959963984540054);

// Outcomes of pairwise comparisons (1 win, 0.5 tie, 0 loss) -> win rate with ties as half, and its interval.
struct WinRate {
  Proportion rate;
  int64_t wins = 0, ties = 0, losses = 0;
};
WinRate win_rate(const std::vector<double>& outcomes);

struct MeanStderr {
  double mean = 0, standard_error = 0;  // standard error of the mean (0 for fewer than two values)
  int64_t n = 0;
};
MeanStderr mean_stderr(const std::vector<double>& values);

// A 95 % percentile bootstrap interval of the mean of `values` (each value one unit, e.g. a prompt's paired
// difference), from `resamples` resamples with replacement drawn with a generator seeded by `seed`.
struct Interval {
  double low = 0, high = 0;
};
Interval bootstrap_mean_interval(const std::vector<double>& values, int resamples, uint64_t seed);
// The same for any statistic of `units` units (a ratio, a difference of means): `statistic` gets the indices of one
// resample (with repeats) and returns its value. Resamples where the statistic is not finite are left out; NaN when
// more than 2.5 % are (the interval would be unbounded, e.g. a ratio whose denominator's interval holds 0).
Interval bootstrap_interval(size_t units, const std::function<double(const std::vector<size_t>&)>& statistic,
                            int resamples, uint64_t seed);

// RealToxicityPrompts' two aggregates over prompts, each with k sampled continuations' toxicities:
//   expected maximum toxicity = mean over prompts of max over its samples;
//   toxic probability = share of prompts with at least one sample of toxicity >= threshold.
struct ToxicityAggregate {
  double expected_max_toxicity = 0;
  double expected_max_toxicity_stderr = 0;
  double toxic_probability = 0;
  double mean_toxicity = 0;  // over all samples
  int64_t prompts = 0, samples = 0;
};
ToxicityAggregate aggregate_toxicity(const std::vector<std::vector<double>>& toxicity_per_prompt,
                                     double threshold = 0.5);

// Entropy of a distribution over pronoun choices (probabilities renormalised to sum 1), divided by log(choices):
// 1 = no preference between he/she/they, 0 = always the same pronoun. The paper's Winogender measure.
double normalised_entropy(const std::vector<double>& probabilities);

// Share of pairs where the first log-likelihood is higher (CrowS-Pairs: the stereotyping sentence is more likely).
double share_higher(const std::vector<double>& first, const std::vector<double>& second);

// The probability that a random positive scores above a random negative, ties counting half (the area under the ROC
// curve, Mann-Whitney U / (n+ n-)); NaN when either list is empty. 0.5: the scores cannot tell the two apart.
double auc(const std::vector<double>& positive, const std::vector<double>& negative);

// The alignment tax of a model on a metric: how much worse than SFT it is (positive = worse).
double alignment_tax(double sft, double model, bool higher_is_better);
// Share of PPO's tax that PPO-ptx recovers: (tax_ppo - tax_ptx) / tax_ppo. NaN when PPO pays no tax (tax_ppo <= 0).
double tax_recovered(double sft, double ppo, double ppo_ptx, bool higher_is_better);

// Compute (Kaplan et al.'s approximation, as the paper's Table/Appendix uses it): a forward pass costs 2·N FLOPs per
// token, forward + backward 6·N. One petaflop/s-day = 1e15 · 86400 FLOPs.
double training_flops(double parameters, double tokens_trained);
double inference_flops(double parameters, double tokens);
double petaflop_s_days(double flops);

// A JSON number, or null when not finite (JSON has no NaN).
nlohmann::json number_or_null(double value);
// The report's JSON of a proportion {"value", "low", "high", "n"}: given, or the share of `flags` (1 or 0 each, or a
// half for a tie) with its Wilson interval; and of a mean {"mean", "stderr", "n"}.
nlohmann::json proportion_json(const Proportion& p);
nlohmann::json proportion_json(const std::vector<double>& flags);
nlohmann::json mean_stderr_json(const std::vector<double>& values);

}  // namespace rlhf::eval
