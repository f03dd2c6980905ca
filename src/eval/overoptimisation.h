// The over-optimisation curve (Gao et al. 2022; issue 25): PPO's checkpoints judged on test prompts, each against the
// SFT model, and placed by their KL to SFT. The reward model's score of a checkpoint's responses keeps rising with the
// KL; what labelers prefer (held-out labelers' win rate, the checker's task success) rises, peaks and falls once the
// policy exploits what the RM cannot see. The peak's KL says how far PPO can go on this RM.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/judge.h"
#include "eval/preference.h"

namespace rlhf::eval {

// A PPO stage's checkpoint folders that are model directories (OUTPUT/checkpoints/step-N/config.json), by step.
struct PolicyCheckpoint {
  int64_t step = 0;  // the PPO iteration it was written after
  std::string dir;
};
std::vector<PolicyCheckpoint> policy_checkpoints(const std::string& model_dir);

// Mean of `metric` over the steps (after, up_to] of a metrics.jsonl (the KL of the rollouts those iterations drew);
// NaN when none is logged.
double mean_metric_between(const std::string& metrics_jsonl, const std::string& metric, int64_t after, int64_t up_to);

// One point of the curve: a policy's responses to the curve's records, its KL to SFT and its RM scores.
struct CurvePoint {
  int64_t step = 0;      // 0: the SFT model itself
  double kl = 0;         // summed per-token KL per response, as PPO logs it (objective/kl)
  ModelResponses responses;
  std::vector<double> rm_scores;  // one per record
};

// {"points": [{"step", "kl", "rm_score", "task_success", "win_rate_held_out" {value, low, high}, "win_rate_training"}],
//  "peak": {"step", "kl", "win_rate_held_out"}, "prompts": n}. points[0] must be the SFT model (step 0), the baseline
// every win rate is against (its own win rate is 0.5 by definition, not judged).
nlohmann::json overoptimisation_curve(const Judge& judge, const std::vector<nlohmann::json>& records,
                                      const std::vector<CurvePoint>& points);

}  // namespace rlhf::eval
