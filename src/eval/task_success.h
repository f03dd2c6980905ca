// Task success, the demo's first measure (WORLD.md: "the share of tasks done right"): for each model, the share of
// test prompts whose response the checker calls fully correct with every constraint of the instruction kept, with a
// Wilson interval, overall and per task category; and paired differences between models on the same prompts, with
// a bootstrap interval over prompts (a difference of two correlated shares is not two Wilson intervals).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/judge.h"
#include "eval/preference.h"

namespace rlhf::eval {

// {KEY: {"value", "ci": [lo, hi], "n", "by_category": {CATEGORY: {"value", "ci", "n"}}}} for every model. A record's
// category is its "task" field.
nlohmann::json task_success(const Judge& judge, const std::vector<nlohmann::json>& records,
                            const std::vector<ModelResponses>& models);

// {"A - B": {"value", "ci": [lo, hi], "n"}} for each (A, B) pair of model keys present in `models`: the mean over
// prompts of success(A) - success(B), with a 95 % paired bootstrap interval (2000 resamples, fixed seed).
nlohmann::json task_success_differences(const Judge& judge, const std::vector<nlohmann::json>& records,
                                        const std::vector<ModelResponses>& models,
                                        const std::vector<std::pair<std::string, std::string>>& pairs);

}  // namespace rlhf::eval
