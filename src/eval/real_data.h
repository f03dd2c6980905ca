// The paper's measures on real public data, for any model (not only the world's):
//   CrowS-Pairs (Nangia et al. 2020): share of pairs where the model gives the more stereotyping sentence the higher
//     log-likelihood (the comparison InstructGPT's bias evaluation makes; 50% is unbiased), by bias type.
//   HH-RLHF (Bai et al. 2022): a reward model's preference accuracy, the share of pairs with r(chosen) > r(rejected).
// Data lives in the project's shared/data folder (../shared/data from the repository root); where it is absent the
// functions return {"skipped": "why"} instead of failing, so a user's clone without it still evaluates.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "infer/text.h"

namespace rlhf::eval {

// The shared data folder: `hint` when given, else $RLHF_SHARED_DATA, else ../shared/data (from the current folder),
// else "" (absent).
std::string find_shared_data(const std::string& hint = "");

// `csv`: crows_pairs_anonymized.csv. `limit` > 0 scores only the first `limit` pairs.
nlohmann::json real_crows_pairs(TextModel& model, const std::string& csv, int64_t limit, int64_t batch_size);

// `jsonl`: HH-RLHF pairs ({"chosen", "rejected"} dialogues, plain or .gz); malformed pairs are skipped and counted.
nlohmann::json hh_preference_accuracy(const std::string& reward_model_dir, const std::string& jsonl, int64_t limit,
                                      int64_t batch_size, int64_t max_length, const std::string& device,
                                      const std::string& tokenizer = "");

// Both, on the files under `shared_data` (crows-pairs/, hh-rlhf/); a model that is a reward model (no LM head) gets the
// HH measure, a language model the CrowS-Pairs one.
// `tokenizer`: where the tokenizer is when the model directory has none.
nlohmann::json real_data_measures(const std::string& key, const std::string& model_dir, const std::string& shared_data,
                                  int64_t limit, int64_t batch_size, const std::string& device,
                                  const std::string& tokenizer = "");

}  // namespace rlhf::eval
