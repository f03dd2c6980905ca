// Prompt curation: PII detection (Luhn on published test numbers), each filter on hand-made logs, user-disjoint
// splits, and non-zero counts for every filter on the world's own prompt log.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include <unistd.h>

#include "common/error.h"
#include "common/files.h"
#include "data/curate.h"
#include "data/pii.h"
#include "world/users.h"
#include "world/world.h"

namespace rlhf::data {
namespace {

using json = nlohmann::json;

std::vector<std::string> kinds(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& m : find_pii(text)) out.push_back(m.kind);
  return out;
}

TEST(Luhn, PublishedValidAndInvalidNumbers) {
  // Wikipedia's worked example and the card networks' public test numbers.
  for (const char* valid : {"79927398713", "4111 1111 1111 1111", "4539-1488-0343-6467", "5500 0000 0000 0004",
                            "3782 822463 10005", "6011 1111 1111 1117"})
    EXPECT_TRUE(luhn_valid(valid)) << valid;
  for (const char* invalid : {"79927398710", "4111 1111 1111 1112", "1234 5678 9012 3456", "7", "4111x1111"})
    EXPECT_FALSE(luhn_valid(invalid)) << invalid;
}

TEST(Pii, FindsEachKindAndLeavesLookalikesAlone) {
  EXPECT_EQ(kinds("Mail me at ana.kovel@postmail.org today."), std::vector<std::string>{"email"});
  EXPECT_EQ(kinds("Call 555-123-4567 or (555) 123-4567 or +1 555 123 4567 or 555.123.4567."),
            (std::vector<std::string>{"phone", "phone", "phone", "phone"}));
  EXPECT_EQ(kinds("Card: 4111 1111 1111 1111."), std::vector<std::string>{"card"});
  EXPECT_EQ(kinds("Card: 4111-1111-1111-1111."), std::vector<std::string>{"card"});
  EXPECT_EQ(kinds("I live at 12 Oak Street in town."), std::vector<std::string>{"address"});
  EXPECT_EQ(kinds("Server 192.168.1.20 and 2001:db8::1 and ::1."), (std::vector<std::string>{"ip", "ip", "ip"}));
  // Not PII: a Luhn-invalid order number, dates, times, versions, impossible addresses, plain numbers.
  EXPECT_TRUE(kinds("Order 1234 5678 9012 3456 shipped.").empty());
  EXPECT_TRUE(kinds("On 2023-10-12 at 12:30:45 we shipped version 1.2.3 to 999.1.1.1.").empty());
  EXPECT_TRUE(kinds("I have 3 dogs and 12 cats; 4 plus 5 is 9.").empty());
  std::string text = "Write to ana@mail.com or call 555-123-4567.";
  EXPECT_EQ(redact_pii(text, find_pii(text)), "Write to [EMAIL] or call [PHONE].");
}

json rec(const std::string& user, const std::string& prompt, const std::string& type = "plain") {
  return {{"user_id", user}, {"prompt", prompt}, {"prompt_type", type}, {"task", "open_qa"}};
}

std::vector<json> all(const Curated& c) {
  std::vector<json> out = c.train;
  out.insert(out.end(), c.validation.begin(), c.validation.end());
  out.insert(out.end(), c.test.begin(), c.test.end());
  return out;
}

TEST(Curate, ExactAndPrefixDuplicates) {
  std::string long_prompt = "Read the text and answer. Text: Lino Varos is a pilot. He lives in Tolmar. Question: where?";
  std::vector<json> log = {rec("a", "What is the capital of Varenia?"), rec("b", "What is the capital of Varenia?"),
                           rec("a", long_prompt), rec("c", long_prompt + " Please."),
                           rec("c", "What is the capital of Kostia?")};
  CurateOptions o;
  Curated c = curate(log, o);
  EXPECT_EQ(c.report.exact_duplicates, 1u);
  EXPECT_EQ(c.report.prefix_duplicates, 1u);
  EXPECT_EQ(c.report.kept, 3u);  // short prompts sharing a short prefix both stay
  o.prefix_chars = 0;
  EXPECT_EQ(curate(log, o).report.prefix_duplicates, 0u);
  o.prefix_chars = 10;  // "What is th" now makes the Kostia question a copy of the Varenia one
  EXPECT_EQ(curate(log, o).report.prefix_duplicates, 2u);
}

TEST(Curate, PerUserCapAndUserDisjointSplits) {
  std::vector<json> log;
  for (int u = 0; u < 40; ++u)
    for (int i = 0; i < (u == 0 ? 500 : 10); ++i)
      log.push_back(rec("user" + std::to_string(u), "Prompt number " + std::to_string(i) + " of user " + std::to_string(u),
                        i % 3 == 0 ? "few-shot" : "plain"));
  CurateOptions o;
  o.max_per_user = 200;
  Curated c = curate(log, o);
  EXPECT_EQ(c.report.over_user_cap, 300u);
  EXPECT_EQ(c.report.users_over_cap, 1u);
  EXPECT_EQ(c.report.kept, 200u + 39u * 10u);
  std::map<std::string, std::set<std::string>> users;
  for (const auto* split : {&c.train, &c.validation, &c.test}) {
    EXPECT_FALSE(split->empty());
    std::set<std::string>& mine = users[split == &c.train ? "train" : split == &c.validation ? "validation" : "test"];
    for (const auto& r : *split) mine.insert(r["user_id"].get<std::string>());
  }
  for (const auto& u : users["train"]) EXPECT_FALSE(users["validation"].count(u) || users["test"].count(u)) << u;
  for (const auto& u : users["validation"]) EXPECT_FALSE(users["test"].count(u)) << u;
  // Prompt types pass through and are counted.
  EXPECT_GT(c.report.prompt_types["train"]["few-shot"], 0u);
  EXPECT_EQ(c.train[0]["task"], "open_qa");
  // Same seed, same split; another seed, another split.
  EXPECT_EQ(curate(log, o).test, c.test);
  o.seed = 5;
  EXPECT_NE(curate(log, o).test, c.test);
}

TEST(Curate, PiiRedactOrDrop) {
  std::vector<json> log = {rec("a", "My email is ana@mail.com. What is 3 plus 4?"),
                           rec("b", "My card number is 4111 1111 1111 1111. Name three birds."),
                           rec("c", "My order number is 1234 5678 9012 3456. Name three fish."),
                           rec("d", "Where is Varenia?")};
  CurateOptions o;
  Curated redacted = curate(log, o);
  EXPECT_EQ(redacted.report.pii_prompts, 2u);
  EXPECT_EQ(redacted.report.pii_redacted, 2u);
  EXPECT_EQ(redacted.report.pii_matches["email"], 1u);
  EXPECT_EQ(redacted.report.pii_matches["card"], 1u);
  std::set<std::string> prompts;
  for (const auto& r : all(redacted)) prompts.insert(r["prompt"].get<std::string>());
  EXPECT_TRUE(prompts.count("My email is [EMAIL]. What is 3 plus 4?"));
  EXPECT_TRUE(prompts.count("My card number is [CARD]. Name three birds."));
  EXPECT_TRUE(prompts.count("My order number is 1234 5678 9012 3456. Name three fish."));
  o.pii = "drop";
  Curated dropped = curate(log, o);
  EXPECT_EQ(dropped.report.pii_dropped, 2u);
  EXPECT_EQ(dropped.report.kept, 2u);
  o.pii = "mask";
  EXPECT_THROW(curate(log, o), Error);
}

TEST(Curate, BadInputNamesTheLine) {
  std::string dir = testing::TempDir() + "/rlhf_curate_bad_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  write_file_atomic(dir + "/log.jsonl", "{\"user_id\": \"a\", \"prompt\": \"x\"}\n\n{\"prompt\": \"y\"}\n");
  try {
    curate_file(dir + "/log.jsonl", dir + "/out", CurateOptions{});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("log.jsonl:3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("user_id"), std::string::npos) << e.what();
  }
  write_file_atomic(dir + "/broken.jsonl", "{\"user_id\": \"a\", \"prompt\": \"x\"}\n{not json\n");
  EXPECT_THROW(curate_file(dir + "/broken.jsonl", dir + "/out", CurateOptions{}), Error);
  std::filesystem::remove_all(dir);
  EXPECT_THROW(parse_split("0.8,0.2"), Error);
  EXPECT_THROW(parse_split("0.8,x,0.1"), Error);
  EXPECT_EQ(parse_split("8,1,1"), (std::vector<double>{8, 1, 1}));
}

TEST(Curate, EveryFilterHasWorkOnTheWorldsLog) {
  world::WorldConfig config;
  world::World w = world::World::generate(config);
  std::string dir = testing::TempDir() + "/rlhf_curate_world_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto log = world::generate_prompt_log(w.knowledge(), w.config());
  {
    std::ofstream out(dir + "/prompt_log.jsonl");
    for (const auto& r : log) out << r.dump() << "\n";
  }
  CurationReport r = curate_file(dir + "/prompt_log.jsonl", dir + "/curated", CurateOptions{});
  EXPECT_GT(r.exact_duplicates, 0u);
  EXPECT_GT(r.prefix_duplicates, 0u);
  EXPECT_GT(r.over_user_cap, 0u);
  EXPECT_GT(r.pii_redacted, 0u);
  for (const char* kind : {"email", "phone", "card", "address", "ip"}) EXPECT_GT(r.pii_matches[kind], 0u) << kind;
  EXPECT_GT(r.kept, log.size() / 2);
  // What the world injected is what the curation found: every PII prompt that survives is redacted, decoys are not.
  std::set<std::string> seen_users[3];
  const char* names[3] = {"train", "validation", "test"};
  std::regex placeholder(R"(\[(EMAIL|PHONE|CARD|ADDRESS|IP)\])");
  for (int s = 0; s < 3; ++s) {
    std::ifstream in(dir + "/curated/" + names[s] + ".jsonl");
    std::string line;
    while (std::getline(in, line)) {
      json record = json::parse(line);
      seen_users[s].insert(record["user_id"].get<std::string>());
      bool redacted = std::regex_search(record["prompt"].get<std::string>(), placeholder);
      EXPECT_EQ(redacted, record["world_meta"].contains("pii")) << record["prompt"];
      ASSERT_TRUE(record.contains("prompt_type"));
    }
  }
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b)
      for (const auto& u : seen_users[a]) EXPECT_FALSE(seen_users[b].count(u)) << u;
  json report = json::parse(read_file(dir + "/curated/curation_report.json"));
  EXPECT_EQ(report["exact_duplicates"].get<size_t>(), r.exact_duplicates);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rlhf::data
