// The labeler-preference evaluation against the world's own judges, on answers whose quality is known: labelers'
// demonstrations (gold) against one off-topic sentence for every prompt (garbage). A flipped comparison, swapped
// model and baseline, or a judge that ignores the responses fails here.
#include <gtest/gtest.h>

#include <cctype>

#include <iterator>
#include <set>
#include <sstream>
#include <tuple>

#include "../temp_dir.h"
#include "eval/preference.h"
#include "eval/task_success.h"
#include "eval/unanswerable.h"
#include "pipeline/world_judge.h"
#include "world/users.h"

namespace rlhf {
namespace {

using json = nlohmann::json;

// A small world written to a temporary folder, its judge, and its first `n` prompts with labelers' demonstrations.
struct WorldWithGold {
  TempDir dir;
  pipeline::WorldJudge judge;
  std::vector<json> records;
  eval::ModelResponses gold{"gold", {}};

  WorldWithGold(const std::string& name, size_t n) : dir(name, "world"), judge(write_world(dir)) {
    for (const auto& record : world::generate_prompt_log(judge.world().knowledge(), judge.world().config())) {
      if (records.size() == n) break;
      records.push_back(record);
      gold.responses.push_back(judge.world().labelers().write_demonstration(record));
    }
  }
  static std::string write_world(const TempDir& dir) {
    world::WorldConfig c;
    c.corpus_documents = 200, c.heldout_documents = 20, c.prompts = 400, c.users = 40, c.benchmark_items = 20;
    world::World::generate(c).write(dir.path.string());
    return dir.path.string();
  }
};

TEST(LabelerPreference, GoldBeatsGarbageAndSwappingTurnsItAround) {
  WorldWithGold w("preference", 80);
  const auto& [records, judge, gold] = std::tie(w.records, w.judge, w.gold);
  eval::ModelResponses garbage{"garbage", std::vector<std::string>(records.size(), "Parrots are birds.")};
  ASSERT_EQ(records.size(), 80u);
  ASSERT_TRUE(judge.has_held_out_labelers());

  const json forward = eval::labeler_preference(judge, records, {gold}, garbage);
  const json backward = eval::labeler_preference(judge, records, {garbage}, gold);
  for (const char* set : {"training", "held_out"}) {
    SCOPED_TRACE(set);
    EXPECT_GT(forward["models"]["gold"][set]["win_rate"]["value"].get<double>(), 0.9);
    EXPECT_LT(backward["models"]["garbage"][set]["win_rate"]["value"].get<double>(), 0.1);
  }
}

// The world's judge tells the evaluation which prompts have no answer (the checker's `answerable`) and which answers
// decline (`idk`): the labelers' demonstrations decline exactly the unanswerable test prompts, and on the TruthfulQA
// analogue the fictional items are the unanswerable ones and "I don't know." is read as declining.
TEST(LabelerPreference, WorldMarksUnanswerablePromptsAndDeclines) {
  WorldWithGold w("unanswerable", 400);
  std::vector<eval::IdkItem> items;
  for (size_t i = 0; i < w.records.size(); ++i) {
    const eval::JudgeFeatures f = w.judge.check(w.records[i], w.gold.responses[i]);
    const json& data = w.records[i]["task_data"];
    EXPECT_EQ(f.answerable, data.value("answerable", true)) << w.records[i].dump();
    items.push_back({"test_prompts", std::to_string(i), f.answerable, f.idk});
  }
  const json shares = eval::idk_shares(items);
  ASSERT_GT(shares["unanswerable"]["n"].get<double>(), 0) << "no unanswerable prompt in 400";
  EXPECT_DOUBLE_EQ(shares["unanswerable"]["value"].get<double>(), 1.0);
  EXPECT_LT(shares["answerable"]["value"].get<double>(), 0.05);
  int fictional = 0;
  for (const auto& item : w.judge.benchmark_items("truthfulqa")) {
    EXPECT_EQ(item.value("answerable", true), item["kind"] != "fictional") << item.dump();
    fictional += item["kind"] == "fictional";
    EXPECT_TRUE(w.judge.judge_truthfulness(item, "I don't know.").idk);
    EXPECT_FALSE(w.judge.judge_truthfulness(item, "It is a bird.").idk);
  }
  EXPECT_GT(fictional, 0);
}

// The RM's verification probe (eval/task_success.h): every twin is the demonstration with one of the prompt's names
// swapped for another of its kind, same length in words, and a failure by the checker while the original succeeds; a
// reward that ranks originals first scores 1, one that ranks twins first 0, one that cannot tell 0.5.
TEST(NameSwap, TwinsDifferInOneNameAndFailTheChecker) {
  WorldWithGold w("name_swap", 200);
  const auto& [records, judge, gold] = std::tie(w.records, w.judge, w.gold);
  const eval::NameSwapPairs pairs = eval::name_swap_pairs(judge, records, gold);
  ASSERT_GE(pairs.records.size(), 20u) << "too few twins to mean anything";
  auto words = [](const std::string& text) {
    std::istringstream in(text);
    return std::vector<std::string>(std::istream_iterator<std::string>(in), std::istream_iterator<std::string>());
  };
  for (size_t i = 0; i < pairs.records.size(); ++i) {
    const std::string &original = pairs.original.responses[i], &twin = pairs.swapped.responses[i];
    SCOPED_TRACE(pairs.records[i]["prompt"].get<std::string>() + " | " + original + " | " + twin);
    EXPECT_TRUE(judge.check(pairs.records[i], original).success);
    EXPECT_FALSE(judge.check(pairs.records[i], twin).success);
    const auto a = words(original), b = words(twin);
    ASSERT_EQ(a.size(), b.size());
    std::set<std::string> changed;
    auto bare = [](std::string word) {  // "cow." and "cow" are one name
      while (!word.empty() && std::ispunct(static_cast<unsigned char>(word.back()))) word.pop_back();
      return word;
    };
    for (size_t w = 0; w < a.size(); ++w)
      if (a[w] != b[w]) changed.insert(bare(a[w]));
    EXPECT_EQ(changed.size(), 1u);  // one name, wherever it occurs
  }
  std::cout << "name-swapped twins: " << pairs.records.size() << " of " << records.size() << ", e.g. \""
            << pairs.original.responses[0] << "\" -> \"" << pairs.swapped.responses[0] << "\"\n";

  const std::vector<double> high(pairs.records.size(), 1.0), low(pairs.records.size(), 0.0);
  EXPECT_DOUBLE_EQ(eval::name_swap_accuracy(pairs, high, low)["value"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(eval::name_swap_accuracy(pairs, low, high)["value"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(eval::name_swap_accuracy(pairs, high, high)["value"].get<double>(), 0.5);
}

}  // namespace
}  // namespace rlhf
