// The labeler-preference evaluation against the world's own judges, on answers whose quality is known: labelers'
// demonstrations (gold) against one off-topic sentence for every prompt (garbage). A flipped comparison, swapped
// model and baseline, or a judge that ignores the responses fails here.
#include <gtest/gtest.h>

#include <iterator>
#include <set>
#include <sstream>

#include "../temp_dir.h"
#include "eval/preference.h"
#include "eval/task_success.h"
#include "pipeline/world_judge.h"
#include "world/users.h"

namespace rlhf {
namespace {

using json = nlohmann::json;

TEST(LabelerPreference, GoldBeatsGarbageAndSwappingTurnsItAround) {
  TempDir dir("preference", "world");
  world::WorldConfig c;
  c.corpus_documents = 200, c.heldout_documents = 20, c.prompts = 400, c.users = 40, c.benchmark_items = 20;
  world::World::generate(c).write(dir.path.string());
  pipeline::WorldJudge judge(dir.path.string());
  const world::World& w = judge.world();
  std::vector<json> records;
  eval::ModelResponses gold{"gold", {}}, garbage{"garbage", {}};
  for (const auto& record : world::generate_prompt_log(w.knowledge(), w.config())) {
    if (records.size() == 80) break;
    records.push_back(record);
    gold.responses.push_back(w.labelers().write_demonstration(record));
    garbage.responses.push_back("Parrots are birds.");
  }
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

// The RM's verification probe (eval/task_success.h): every twin is the demonstration with one of the prompt's names
// swapped for another of its kind, same length in words, and a failure by the checker while the original succeeds; a
// reward that ranks originals first scores 1, one that ranks twins first 0, one that cannot tell 0.5.
TEST(NameSwap, TwinsDifferInOneNameAndFailTheChecker) {
  TempDir dir("name_swap", "world");
  world::WorldConfig c;
  c.corpus_documents = 200, c.heldout_documents = 20, c.prompts = 400, c.users = 40, c.benchmark_items = 20;
  world::World::generate(c).write(dir.path.string());
  pipeline::WorldJudge judge(dir.path.string());
  std::vector<json> records;
  eval::ModelResponses gold{"gold", {}};
  for (const auto& record : world::generate_prompt_log(judge.world().knowledge(), judge.world().config())) {
    if (records.size() == 200) break;
    records.push_back(record);
    gold.responses.push_back(judge.world().labelers().write_demonstration(record));
  }
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
    for (size_t w = 0; w < a.size(); ++w)
      if (a[w] != b[w]) changed.insert(a[w]);
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
