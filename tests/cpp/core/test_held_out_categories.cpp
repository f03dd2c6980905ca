// --held_out_categories (pipeline/held_out.h): the list is checked against the world's categories, a record is held out
// by its category, and the labelers write as many prompts as asked, none of a held-out category, the same prompts as
// without the option otherwise.
#include <gtest/gtest.h>

#include "../error_of.h"
#include "pipeline/held_out.h"
#include "world/tasks.h"
#include "world/world.h"

namespace rlhf::pipeline {
namespace {

using json = nlohmann::json;

const world::World& demo_world() {
  static const world::World w = world::World::generate(world::WorldConfig{});
  return w;
}

TEST(HeldOutCategories, AnUnknownNameIsAClearErrorListingTheValidOnes) {
  const std::string message = error_of([] { HeldOutCategories::parse("extraction,code"); });
  EXPECT_NE(message.find("--held_out_categories"), std::string::npos) << message;
  EXPECT_NE(message.find("'code'"), std::string::npos) << message;
  for (const auto& name : world::task_categories()) EXPECT_NE(message.find(name), std::string::npos) << message;
  // Every category held out leaves nothing to train on.
  std::string all;
  for (const auto& name : world::task_categories()) all += name + ",";
  EXPECT_NE(error_of([&] { HeldOutCategories::parse(all); }).find("at most 8"), std::string::npos);
  EXPECT_TRUE(HeldOutCategories::parse("").empty());
  EXPECT_TRUE(HeldOutCategories::parse(" , ").empty());
}

TEST(HeldOutCategories, NamesComeInTheWorldsOrderOnceEach) {
  const auto held_out = HeldOutCategories::parse(" extraction, rewrite ,extraction");
  EXPECT_EQ(held_out.names(), (std::vector<std::string>{"rewrite", "extraction"}));
}

TEST(HeldOutCategories, ARecordIsHeldOutByItsCategory) {
  const auto held_out = HeldOutCategories::parse("extraction");
  EXPECT_TRUE(held_out.holds({{"task", "extraction"}, {"task_data", {{"category", "extraction"}}}}));
  EXPECT_TRUE(held_out.holds({{"task_data", {{"category", "extraction"}}}}));
  EXPECT_FALSE(held_out.holds({{"task", "rewrite"}, {"task_data", {{"category", "rewrite"}}}}));
  EXPECT_FALSE(held_out.holds({{"prompt", "no category"}}));
  const std::vector<json> records = {{{"task", "rewrite"}, {"id", "a"}}, {{"task", "extraction"}, {"id", "b"}},
                                     {{"task", "chat"}, {"id", "c"}}};
  const auto kept = held_out.without(records);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0]["id"], "a");
  EXPECT_EQ(kept[1]["id"], "c");
  EXPECT_EQ(HeldOutCategories().without(records).size(), 3u);
}

TEST(HeldOutCategories, LabelersWriteAsManyPromptsNoneOfAHeldOutCategory) {
  const auto& w = demo_world();
  const int count = 100;
  const auto plain = HeldOutCategories().labeler_prompts(w, count, "labeler_prompts");
  EXPECT_EQ(plain, w.labeler_prompts(count));  // no held-out category: the world's own draw
  const auto held_out = HeldOutCategories::parse("extraction,closed_qa");
  const auto prompts = held_out.labeler_prompts(w, count, "labeler_prompts");
  ASSERT_EQ(static_cast<int>(prompts.size()), count);
  for (const auto& p : prompts) {
    EXPECT_NE(p["task_data"]["category"], "extraction") << p.dump();
    EXPECT_NE(p["task_data"]["category"], "closed_qa") << p.dump();
  }
  // The prompts of the other categories are the ones the labelers write without the option, in order.
  std::vector<json> expected;
  for (const auto& p : w.labeler_prompts(2 * count))
    if (p["task"] != "extraction" && p["task"] != "closed_qa" && static_cast<int>(expected.size()) < count)
      expected.push_back(p);
  EXPECT_EQ(prompts, expected);
}

}  // namespace
}  // namespace rlhf::pipeline
