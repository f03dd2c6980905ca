// The over-optimisation curve (eval/overoptimisation.h): which checkpoint folders are points, the KL each point paid,
// and the peak of the held-out labelers' preference on a judge whose labelers prefer the record's "answer".
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "test_judges.h"
#include "common/error.h"
#include "common/files.h"
#include "eval/overoptimisation.h"

namespace rlhf::eval {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("rlhf_curve_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                                               "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { remove_tree(path.string()), fs::create_directories(path); }
  ~TempDir() { remove_tree(path.string()); }  // not fs::remove_all (common/files.h says why)
};

void touch(const fs::path& file) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << "{}";
}

TEST(Overoptimisation, CheckpointsAreModelFoldersInStepOrder) {
  TempDir d;
  const fs::path c = d.path / "checkpoints";
  for (const char* step : {"step-12", "step-4", "step-8.non-finite", "step-x", "step-"}) touch(c / step / "config.json");
  fs::create_directories(c / "step-16");  // no config.json: not a model folder
  touch(c / "latest");
  const auto found = policy_checkpoints(d.path.string());
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].step, 4);  // numeric order: "step-12" sorts before "step-4" as text
  EXPECT_EQ(found[1].step, 12);
  EXPECT_EQ(fs::path(found[1].dir).filename(), "step-12");
  EXPECT_TRUE(policy_checkpoints((d.path / "absent").string()).empty());
}

TEST(Overoptimisation, KlIsTheMeanOverTheIterationsSinceThePreviousPoint) {
  TempDir d;
  const fs::path metrics = d.path / "metrics.jsonl";
  {
    std::ofstream out(metrics);
    for (int step = 1; step <= 6; ++step) out << json{{"step", step}, {"objective/kl", step * 1.0}}.dump() << "\n";
    out << "not json\n" << json{{"step", 5}, {"other", 100}}.dump() << "\n";
  }
  EXPECT_DOUBLE_EQ(mean_metric_between(metrics.string(), "objective/kl", 2, 4), 3.5);  // steps 3 and 4
  EXPECT_DOUBLE_EQ(mean_metric_between(metrics.string(), "objective/kl", 0, 6), 3.5);
  EXPECT_TRUE(std::isnan(mean_metric_between(metrics.string(), "objective/kl", 6, 9)));
  EXPECT_TRUE(std::isnan(mean_metric_between(metrics.string(), "missing", 0, 6)));
}

TEST(Overoptimisation, HeldOutPreferencePeaksWhileTheRewardKeepsRising) {
  AnswerJudge judge;
  const std::vector<json> records = {{{"answer", "a"}}, {{"answer", "b"}}, {{"answer", "c"}}, {{"answer", "d"}}};
  // SFT right on one prompt; step 4 on three; step 8 on none, with long responses the training labelers like and the
  // RM scores highest.
  std::vector<CurvePoint> points(3);
  points[0] = {0, 0.0, {"sft", {"a", "x", "x", "x"}}, {0, 0, 0, 0}};
  points[1] = {4, 1.5, {"ppo@4", {"a", "b", "c", "x"}}, {1, 1, 1, 1}};
  points[2] = {8, 6.0, {"ppo@8", {"long", "long", "long", "long"}}, {3, 3, 3, 3}};
  const json curve = overoptimisation_curve(judge, records, points);
  ASSERT_EQ(curve["points"].size(), 3u);
  EXPECT_EQ(curve["prompts"].get<int>(), 4);
  EXPECT_DOUBLE_EQ(curve["points"][0]["win_rate_held_out"]["value"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(curve["points"][0]["task_success"].get<double>(), 0.25);
  // Step 4 wins the two prompts it alone gets right and ties the rest: (2 + 0.5 * 2) / 4.
  EXPECT_DOUBLE_EQ(curve["points"][1]["win_rate_held_out"]["value"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(curve["points"][1]["task_success"].get<double>(), 0.75);
  // Step 8 loses prompt a, ties three for held-out labelers; training labelers prefer its length on those three.
  EXPECT_DOUBLE_EQ(curve["points"][2]["win_rate_held_out"]["value"].get<double>(), 0.375);
  EXPECT_DOUBLE_EQ(curve["points"][2]["win_rate_training"]["value"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(curve["points"][2]["rm_score"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(curve["points"][2]["kl"].get<double>(), 6.0);
  EXPECT_EQ(curve["peak"]["step"].get<int>(), 4);
  EXPECT_DOUBLE_EQ(curve["peak"]["kl"].get<double>(), 1.5);

  std::vector<CurvePoint> no_sft(points.begin() + 1, points.end());
  EXPECT_THROW(overoptimisation_curve(judge, records, no_sft), Error);
}

}  // namespace
}  // namespace rlhf::eval
