// Task success and the reward model's success AUC (eval/task_success.h) on a judge whose checker is a lookup: a
// response succeeds when it equals the record's "answer".
#include <gtest/gtest.h>

#include <cmath>

#include "test_judges.h"
#include "common/error.h"
#include "eval/stats.h"
#include "eval/task_success.h"

namespace rlhf::eval {
namespace {

using json = nlohmann::json;

// Four records, two categories; "easy" answered right by both models, "hard" only by the second.
std::vector<json> records() {
  return {{{"task", "easy"}, {"answer", "a"}}, {{"task", "easy"}, {"answer", "b"}},
          {{"task", "hard"}, {"answer", "c"}}, {{"task", "hard"}, {"answer", "d"}}};
}

TEST(Auc, CountsPairsAndTiesHalf) {
  // Pairs (3,1) (3,2) (2,1) win, (2,2) ties: 3.5 of 4.
  EXPECT_DOUBLE_EQ(auc({3, 2}, {1, 2}), 0.875);
  EXPECT_DOUBLE_EQ(auc({0}, {1, 2}), 0.0);
  EXPECT_TRUE(std::isnan(auc({}, {1})));
}

TEST(TaskSuccess, SharesOverallAndPerCategory) {
  AnswerJudge judge;
  const auto result = task_success(judge, records(), {{"first", {"a", "b", "x", "x"}}, {"second", {"a", "x", "c", "d"}}});
  EXPECT_DOUBLE_EQ(result["first"]["value"].get<double>(), 0.5);
  EXPECT_EQ(result["first"]["n"].get<int>(), 4);
  EXPECT_DOUBLE_EQ(result["first"]["by_category"]["easy"]["value"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(result["first"]["by_category"]["hard"]["value"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(result["second"]["value"].get<double>(), 0.75);
  EXPECT_THROW(task_success(judge, records(), {{"short", {"a"}}}), Error);
}

TEST(HeldOutTaskSuccess, SplitsTheTestPromptsByCategoryAndPairsOnTheHeldOutOnes) {
  AnswerJudge judge;
  // "hard" held out: first gets none of its prompts, second both; on "easy" first gets both, second one.
  std::vector<json> with_ids = records();
  with_ids[2]["id"] = "p3";  // the other hard prompt has no id: its place among the records stands in
  const std::vector<ModelResponses> models = {{"first", {"a", "b", "x", "x"}}, {"second", {"a", "x", "c", "d"}}};
  const auto result = held_out_task_success(judge, with_ids, models, {"hard"}, {{"second", "first"}});
  EXPECT_EQ(result["categories"], json({"hard"}));
  EXPECT_DOUBLE_EQ(result["held_out"]["first"]["value"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(result["held_out"]["second"]["value"].get<double>(), 1.0);
  EXPECT_EQ(result["held_out"]["second"]["n"].get<int>(), 2);
  const Proportion wilson = wilson_interval(2, 2);
  EXPECT_DOUBLE_EQ(result["held_out"]["second"]["ci"][0].get<double>(), wilson.low);
  EXPECT_DOUBLE_EQ(result["trained_on"]["first"]["value"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(result["trained_on"]["second"]["value"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(result["differences"]["second - first"]["value"].get<double>(), 1.0);
  EXPECT_EQ(result["items"]["second"]["ids"], json({"p3", "#3"}));
  EXPECT_EQ(result["items"]["first"]["success"], json({0.0, 0.0}));
  EXPECT_EQ(result["items"]["second"]["success"], json({1.0, 1.0}));
  // No test prompt of a held-out category: nothing measured there, the rest still reported.
  const auto none = held_out_task_success(judge, with_ids, models, {"other"}, {{"second", "first"}});
  EXPECT_TRUE(none["held_out"].empty());
  EXPECT_TRUE(none["items"].empty());
  EXPECT_DOUBLE_EQ(none["trained_on"]["second"]["value"].get<double>(), 0.75);
}

TEST(RewardSuccessAuc, AScoreThatOnlyKnowsTheCategoryIsBlindWithinCategories) {
  AnswerJudge judge;
  // Both models: easy prompts mixed (a right, x wrong), hard prompts mixed. Scores: 1 on every easy prompt, 0 on every
  // hard one, whatever the response.
  const std::vector<ModelResponses> models = {{"first", {"a", "x", "c", "x"}}, {"second", {"x", "b", "x", "d"}}};
  const auto by_category = reward_success_auc(judge, records(), models, {{1, 1, 0, 0}, {1, 1, 0, 0}});
  EXPECT_DOUBLE_EQ(by_category["within_category"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(by_category["by_category"]["easy"]["auc"].get<double>(), 0.5);
  EXPECT_EQ(by_category["by_category"]["easy"]["successes"].get<int>(), 2);
  EXPECT_EQ(by_category["by_category"]["hard"]["failures"].get<int>(), 2);

  // Scores that rank each success above each failure of its own category, but put hard successes below easy
  // failures: perfect within categories, imperfect pooled.
  const auto ranked = reward_success_auc(judge, records(), models, {{3, 2, 1, 0}, {2, 3, 0, 1}});
  EXPECT_DOUBLE_EQ(ranked["within_category"].get<double>(), 1.0);
  // Pooled: successes {3, 1, 3, 1}, failures {2, 0, 2, 0}: each 3 beats all four, each 1 beats the two 0s: 12/16.
  EXPECT_DOUBLE_EQ(ranked["all"].get<double>(), 0.75);
  EXPECT_THROW(reward_success_auc(judge, records(), models, {{1, 1, 0, 0}}), Error);
}

// A lookup judge whose records marked "harmful" are requests to decline: a response complies when it is "sure".
class HarmfulAnswerJudge : public AnswerJudge {
 public:
  JudgeFeatures check(const json& record, const std::string& response) const override {
    JudgeFeatures f = AnswerJudge::check(record, response);
    f.harmful = record.value("harmful", false);
    f.complies = f.harmful && response == "sure";
    return f;
  }
};

TEST(TaskSuccess, HarmfulRequestsAreNotTasksAndCountNowhere) {
  HarmfulAnswerJudge judge;
  std::vector<json> with_harmful = records();
  // Two harmful requests whose "answer" the models give: were they counted, they would be successes.
  with_harmful.insert(with_harmful.begin() + 1, json{{"task", "harmful"}, {"answer", "r"}, {"harmful", true}});
  with_harmful.push_back({{"task", "harmful"}, {"answer", "r"}, {"harmful", true}});
  const std::vector<ModelResponses> models = {{"first", {"a", "r", "b", "x", "x", "r"}},
                                              {"second", {"a", "sure", "x", "c", "d", "r"}}};
  const auto result = task_success(judge, with_harmful, models);
  EXPECT_EQ(result["first"]["n"].get<int>(), 4);
  EXPECT_DOUBLE_EQ(result["first"]["value"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(result["second"]["value"].get<double>(), 0.75);
  EXPECT_FALSE(result["first"]["by_category"].contains("harmful"));
  const auto differences = task_success_differences(judge, with_harmful, models, {{"second", "first"}});
  EXPECT_EQ(differences["second - first"]["n"].get<int>(), 4);
  EXPECT_DOUBLE_EQ(differences["second - first"]["value"].get<double>(), 0.25);
  const auto held_out = held_out_task_success(judge, with_harmful, models, {"hard"}, {});
  EXPECT_EQ(held_out["trained_on"]["first"]["n"].get<int>(), 2);
  EXPECT_EQ(held_out["items"]["second"]["ids"], json({"#3", "#4"}));  // places among all the records
  const auto auc = reward_success_auc(judge, with_harmful, models, {{1, 9, 1, 0, 0, 9}, {1, 9, 0, 1, 1, 9}});
  EXPECT_FALSE(auc["by_category"].contains("harmful"));
  EXPECT_DOUBLE_EQ(auc["within_category"].get<double>(), 1.0);
}

}  // namespace
}  // namespace rlhf::eval
