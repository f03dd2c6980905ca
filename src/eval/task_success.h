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

// How well reward-model scores tell the responses the checker calls successful from the others: PPO can only raise task
// success if its reward ranks success higher. scores[m][i] is the score of models[m]'s response to records[i]. The AUC
// (stats.h) per category over all given models' responses pooled; "all" pooled over categories; "within_category" the
// mean of the categories' AUCs weighted by their (success, failure) pairs, which stays at 0.5 for a reward that only
// knows which categories are easy. {"all", "within_category", "by_category": {CATEGORY: {"auc", "successes", "failures"}}}
nlohmann::json reward_success_auc(const Judge& judge, const std::vector<nlohmann::json>& records,
                                  const std::vector<ModelResponses>& models,
                                  const std::vector<std::vector<double>>& scores);

}  // namespace rlhf::eval
