// Reward-model generalisation (InstructGPT §4.1 / Appendix E.2): 5-fold cross-validation over the 5 labeler groups —
// each fold's RM is trained on 4 groups' rankings and tested on the 5th — next to inter-labeler agreement. The pipeline
// trains the folds and writes RUN/rm_cv.json (stage_rm_cross_validation); the evaluation aggregates and reports them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::eval {

struct RmFold {
  int held_out_group = 0;
  std::string group_name;          // optional
  double train_accuracy = 0;       // on held-out comparisons of the 4 training groups (NaN: not measured)
  double held_out_accuracy = 0;    // on the 5th group's comparisons (NaN: not measured)
  int64_t train_pairs = 0, held_out_pairs = 0;
  double agreement = -1;           // inter-labeler agreement on this fold's comparisons (-1: not measured)
};

void to_json(nlohmann::json& out, const RmFold& fold);
void from_json(const nlohmann::json& in, RmFold& fold);

// RUN/rm_cv.json: {"folds": [fold, ...]}; a fold may also spell the fields as the pipeline does ("test_accuracy",
// "test_comparisons", "train_groups_accuracy", "train_groups_comparisons"). A missing file reads as no folds.
std::vector<RmFold> read_rm_folds(const std::string& path);

// {"folds": [...], "train_accuracy": {mean, std}, "held_out_accuracy": {mean, std}, "gap", "agreement": {mean, std,
// source}}. `agreement` (NaN: none), measured on `agreement_source` (the RM's rankings, or the evaluation's own
// comparisons), is used when the folds carry none.
nlohmann::json summarise_rm_folds(const std::vector<RmFold>& folds, double agreement,
                                  const std::string& agreement_source = "evaluation comparisons");

}  // namespace rlhf::eval
