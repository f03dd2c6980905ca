// PPO's own luck (issue 25, `rlhf pipeline --eval_seeds N`): PPO and PPO-ptx trained with N seeds on the same SFT model
// and RM, each judged on the same test prompts against the same SFT responses. One seed's win rate carries the
// judges' noise (its interval) and PPO's (which the interval does not see); the spread over seeds shows the second.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/judge.h"
#include "eval/preference.h"
#include "eval/run_layout.h"

namespace rlhf {
struct SamplingOptions;
}

namespace rlhf::eval {

struct SeedResponses {
  int64_t seed_number = 1;  // 1: the run's own model (models/KEY)
  std::string dir;
  ModelResponses responses;  // one per record
};

// {KEY: {"seeds": [{"seed_number", "dir", "task_success", "task_success_minus_sft", "win_rate_training",
//                   "win_rate_held_out"}, ...],
//        "task_success" | "task_success_minus_sft" | "win_rate_training" | "win_rate_held_out":
//            {"mean", "std" (sample, n - 1), "min", "max", "n"}}}
// for each KEY of `by_model` (its seeds in order). Every seed is judged against the same `sft` responses.
nlohmann::json seed_spread(const Judge& judge, const std::vector<nlohmann::json>& records, const ModelResponses& sft,
                           const std::map<std::string, std::vector<SeedResponses>>& by_model);

// The seeds of each of `keys` (ids as the evaluation names them, "ppo" or "SIZE/ppo"): seed 1 is `first_seed`'s
// responses (the run's model, already generated), seeds 2.. are RUN/models/KEY_seedN, loaded one at a time and
// sampled on `prompts` as the evaluation samples, up to seed `most_seeds` (0: every one there is). A key without a
// second seed is left out.
std::map<std::string, std::vector<SeedResponses>> seed_responses(
    const RunLayout& run, const std::string& size, const std::vector<std::string>& prompts,
    const std::vector<ModelResponses>& first_seed, const SamplingOptions& sampling, const std::string& prompt_format,
    const std::string& device, int64_t most_seeds = 0);

// {"mean", "std", "min", "max", "n"} of the values (std 0 for one value, null members for none).
nlohmann::json spread_of(const std::vector<double>& values);

}  // namespace rlhf::eval
