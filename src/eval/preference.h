// Labeler preference (InstructGPT Figures 1, 3, 4): each model's responses to the test prompts (from held-out users)
// compared with the SFT model's by training labelers and, separately, by held-out labelers; win rate with ties as
// half and a Wilson interval; 1-7 Likert means and the metadata rates; the checker's features of each model's outputs.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/judge.h"

namespace rlhf::eval {

struct ModelResponses {
  std::string key;
  std::vector<std::string> responses;  // one per test record, in order
};

// Each model's outcome against the baseline on each record (1 win, 0.5 tie, 0 loss), by labeler set ("training",
// "held_out"): outcomes[KEY][SET][i]. What the win rates are computed from (report/responses.jsonl keeps them).
using PreferenceOutcomes = std::map<std::string, std::map<std::string, std::vector<double>>>;

// {"baseline", "prompts", "sets": [...], "models": {KEY: {"training": {...}, "held_out": {...}, "features": {...}}}}
// where a set holds win_rate {value, low, high, n, wins, ties, losses}, win_rate_length_controlled {value, ci, n,
// length_slope, length_difference_sd, mean_length_difference} (eval/length_control.h; lengths in words of the whole
// response, model minus baseline), likert {mean, stderr, n} and the metadata rates. `outcomes`: where to put the
// per-record outcomes (nullptr: nowhere).
nlohmann::json labeler_preference(const Judge& judge, const std::vector<nlohmann::json>& records,
                                  const std::vector<ModelResponses>& models, const ModelResponses& baseline,
                                  PreferenceOutcomes* outcomes = nullptr);

// Inter-labeler agreement on the evaluation's own comparisons: every record's distinct responses across the models.
double agreement_on_responses(const Judge& judge, const std::vector<nlohmann::json>& records,
                              const std::vector<ModelResponses>& models);

}  // namespace rlhf::eval
