// Task success, the demo's first measure (WORLD.md: "the share of tasks done right"): for each model, the share of
// test prompts whose response the checker calls fully correct with every constraint of the instruction kept, with a
// Wilson interval, overall and per task category; and paired differences between models on the same prompts, with
// a bootstrap interval over prompts (a difference of two correlated shares is not two Wilson intervals).
// Harmful requests (JudgeFeatures::harmful) are not tasks: every function here leaves them out (eval/harmful.h).
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

// Generalisation to instruction kinds never trained on (`rlhf pipeline --held_out_categories`): task success on the
// test prompts of the held-out categories, and on those of the categories the models trained on, for every model;
// paired differences on the held-out prompts for `pairs`; and each model's per-prompt verdicts there, for the goal.
//   {"categories": [...], "held_out": {KEY: task_success's entry}, "trained_on": {KEY: ...},
//    "differences": {"A - B": ...}, "items": {KEY: {"ids": [...], "success": [0/1 ...]}}}
// A record's category is its "task" field; its id its "id" ("#I", its place among `records`, when it has none).
// "held_out" and "items" hold no model when no record is of a held-out category.
nlohmann::json held_out_task_success(const Judge& judge, const std::vector<nlohmann::json>& records,
                                     const std::vector<ModelResponses>& models,
                                     const std::vector<std::string>& categories,
                                     const std::vector<std::pair<std::string, std::string>>& pairs);

// How well reward-model scores tell the responses the checker calls successful from the others: PPO can only raise task
// success if its reward ranks success higher. scores[m][i] is the score of models[m]'s response to records[i]. The AUC
// (stats.h) per category over all given models' responses pooled; "all" pooled over categories; "within_category" the
// mean of the categories' AUCs weighted by their (success, failure) pairs, which stays at 0.5 for a reward that only
// knows which categories are easy. {"all", "within_category", "by_category": {CATEGORY: {"auc", "successes", "failures"}}}
nlohmann::json reward_success_auc(const Judge& judge, const std::vector<nlohmann::json>& records,
                                  const std::vector<ModelResponses>& models,
                                  const std::vector<std::vector<double>>& scores);

// The reward model's verification probe. A within-category AUC mixes everything that differs between two responses;
// this holds all but one name fixed: for each record whose `model` response the checker calls successful and whose
// judge can swap a name the response took from the prompt (Judge::name_swapped), the pair (response, failing twin).
// The demo's SFT fails mostly by naming the wrong animal or town, so an RM that cannot tell these apart cannot teach
// PPO to do the task, however much else it has learned.
struct NameSwapPairs {
  std::vector<nlohmann::json> records;
  ModelResponses original, swapped;
};
NameSwapPairs name_swap_pairs(const Judge& judge, const std::vector<nlohmann::json>& records, const ModelResponses& model);

// {"value", "ci", "n", "by_category": {CATEGORY: {"value", "ci", "n"}}}: the share of pairs whose original the reward
// scores higher (a tie counts half; 0.5 = blind), with a Wilson interval.
nlohmann::json name_swap_accuracy(const NameSwapPairs& pairs, const std::vector<double>& original_scores,
                                  const std::vector<double>& swapped_scores);

}  // namespace rlhf::eval
