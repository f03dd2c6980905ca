// The labeler-preference evaluation against the world's own judges, on answers whose quality is known: labelers'
// demonstrations (gold) against one off-topic sentence for every prompt (garbage). A flipped comparison, swapped
// model and baseline, or a judge that ignores the responses fails here.
#include <gtest/gtest.h>

#include "../temp_dir.h"
#include "eval/preference.h"
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

}  // namespace
}  // namespace rlhf
