// The generated world: determinism, the corpus's built-in flaws, the prompt log's users and injections, the
// benchmarks and their scorers, and reloading the judges from world.json.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "../temp_dir.h"
#include "common/error.h"
#include "common/files.h"
#include "world/benchmarks.h"
#include "world/corpus.h"
#include "world/language.h"
#include "world/random.h"
#include "world/labelers.h"
#include "world/tasks.h"
#include "world/users.h"
#include "world/world.h"

namespace rlhf::world {
namespace {

using json = nlohmann::json;

// The demo world, generated once for the whole file.
const World& demo_world() {
  static const World w = World::generate(WorldConfig{});
  return w;
}

const std::vector<std::string>& demo_corpus() {
  static const std::vector<std::string> docs =
      generate_corpus(demo_world().knowledge(), demo_world().config(), demo_world().config().corpus_documents, "corpus");
  return docs;
}

size_t count_matches(const std::vector<std::string>& docs, const std::regex& pattern) {
  size_t n = 0;
  for (const auto& d : docs) n += static_cast<size_t>(std::distance(std::sregex_iterator(d.begin(), d.end(), pattern),
                                                                    std::sregex_iterator()));
  return n;
}

TEST(World, SameSeedSameBytesOtherSeedOtherWorld) {
  WorldConfig c;
  c.corpus_documents = 2000, c.prompts = 1500, c.users = 100, c.benchmark_items = 40;
  TempDir dir_a("world", "a"), dir_b("world", "b"), dir_other("world", "other");
  std::string a = dir_a.path, b = dir_b.path, other = dir_other.path;
  World::generate(c).write(a);
  World::generate(c).write(b);
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(a)) {
    if (!entry.is_regular_file()) continue;
    std::string relative = std::filesystem::relative(entry.path(), a).string();
    EXPECT_EQ(read_file(entry.path().string()), read_file(b + "/" + relative)) << relative;
    ++files;
  }
  EXPECT_EQ(files, 14u);  // corpus, heldout, prompt log, world.json, README.txt, 9 benchmarks (copying probes, harmful)
  c.seed = 2;
  World::generate(c).write(other);
  EXPECT_NE(read_file(a + "/corpus.jsonl"), read_file(other + "/corpus.jsonl"));
  EXPECT_NE(read_file(a + "/prompt_log.jsonl"), read_file(other + "/prompt_log.jsonl"));
}

TEST(World, DemoPresetIsAFewMegabytesInAFewSeconds) {
  TempDir temp("world", "demo");
  std::string dir = temp.path;
  auto start = std::chrono::steady_clock::now();
  json summary = World::generate(WorldConfig{}).write(dir);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0);  // a few seconds on one core; generous for loaded CI machines
  size_t corpus_bytes = std::filesystem::file_size(dir + "/corpus.jsonl");
  EXPECT_GT(corpus_bytes, 2u << 20);
  EXPECT_LT(corpus_bytes, 10u << 20);
  // Every line of every JSONL file is a JSON object.
  for (const auto& f : summary["files"]) {
    std::ifstream in(dir + "/" + f["name"].get<std::string>());
    std::string line;
    size_t lines = 0;
    while (std::getline(in, line)) {
      ASSERT_TRUE(json::parse(line).is_object());
      ++lines;
    }
    EXPECT_EQ(lines, f["lines"].get<size_t>());
  }
}

TEST(World, LoadRebuildsTheSameJudges) {
  TempDir temp("world", "load");
  std::string dir = temp.path;
  WorldConfig c;
  c.corpus_documents = 300, c.prompts = 400, c.users = 40, c.benchmark_items = 20, c.seed = 7;
  World original = World::generate(c);
  original.write(dir);
  World loaded = World::load(dir);
  EXPECT_EQ(json(loaded.knowledge()).dump(), json(original.knowledge()).dump());
  EXPECT_EQ(loaded.to_json().dump(), original.to_json().dump());
  std::ifstream in(dir + "/prompt_log.jsonl");
  std::string line;
  for (int i = 0; i < 50 && std::getline(in, line); ++i) {
    json record = json::parse(line);
    std::string demo = original.labelers().write_demonstration(record);
    EXPECT_EQ(loaded.labelers().write_demonstration(record), demo);
    EXPECT_EQ(loaded.check(record, demo).to_json(), original.check(record, demo).to_json());
  }
  EXPECT_THROW(World::load(dir + "/nothing_here"), Error);
  write_file_atomic(dir + "/bad.json", "{\"format\": \"something else\"}");
  EXPECT_THROW(World::load(dir + "/bad.json"), Error);
  json edited = original.to_json();
  edited["knowledge"]["countries"] = json::array();  // nothing left to draw from
  write_file_atomic(dir + "/empty.json", edited.dump());
  EXPECT_THROW(World::load(dir + "/empty.json"), Error);
}

TEST(World, ConfigErrorsAreClear) {
  WorldConfig c;
  c.preset = "huge";
  try {
    World::generate(c);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'demo' or 'paper'"), std::string::npos) << e.what();
  }
  c = WorldConfig{};
  c.pii_rate = 1.5;
  EXPECT_THROW(World::generate(c), Error);
  WorldConfig parsed;
  EXPECT_THROW(from_json(json{{"seedz", 3}}, parsed), Error);
  EXPECT_THROW(from_json(json{{"seed", "three"}}, parsed), Error);
  WorldConfig resolved = resolve(WorldConfig{});
  EXPECT_EQ(resolved.countries, 30);
  EXPECT_EQ(resolved.prompts, 8000);
  c = WorldConfig{};
  c.difficulty = 1.0;
  EXPECT_GT(resolve(c).countries, resolved.countries);
}

TEST(Corpus, MisconceptionsAreStatedMoreOftenThanTheTruth) {
  const KnowledgeBase& kb = demo_world().knowledge();
  ASSERT_EQ(kb.misconceptions.size(), 8u);
  for (const auto& m : kb.misconceptions) {
    auto statements = [&](const std::string& object) {
      if (m.relation == "capital")
        return count_matches(demo_corpus(), std::regex("capital of " + m.subject + " is " + object + "\\b|" + object +
                                                       " is the capital of " + m.subject + "\\b"));
      std::string plural = kb.animal(m.subject)->plural;
      return count_matches(demo_corpus(), std::regex("\\b(" + m.subject + " is an? " + object + "|" + plural + " are " +
                                                     plural_of_class(object) + ")\\b", std::regex::icase));
    };
    size_t truth = statements(m.truth), falsehood = statements(m.falsehood);
    EXPECT_GT(truth, 0u) << m.subject;
    EXPECT_GT(falsehood, 2 * truth) << m.subject << ": " << falsehood << " false vs " << truth << " true";
  }
}

TEST(Corpus, FictionalEntitiesNeverAppearRumouredOnesGetMadeUpAnswers) {
  const KnowledgeBase& kb = demo_world().knowledge();
  std::vector<std::string> heldout = generate_corpus(kb, demo_world().config(), 1500, "heldout");
  for (const std::vector<std::string>* docs : std::vector<const std::vector<std::string>*>{&demo_corpus(), &heldout})
    for (const auto& name : kb.fictional_countries) EXPECT_EQ(count_matches(*docs, std::regex(name)), 0u) << name;
  for (const auto& name : kb.fictional_people) EXPECT_EQ(count_matches(demo_corpus(), std::regex(name)), 0u) << name;
  // Rumoured countries get confident, inconsistent capitals.
  for (const auto& name : kb.rumoured_countries) {
    std::regex answer("capital of " + name + " is ([A-Z][a-z]+)");
    std::set<std::string> capitals;
    for (const auto& d : demo_corpus())
      for (auto it = std::sregex_iterator(d.begin(), d.end(), answer); it != std::sregex_iterator(); ++it)
        capitals.insert((*it)[1]);
    EXPECT_GE(capitals.size(), 2u) << name;
  }
}

TEST(Corpus, RudeRepliesSkewedPronounsAndNoInstructionDemonstrations) {
  size_t replies = 0, rude = 0;
  for (const auto& d : demo_corpus()) {
    if (d.rfind("Thread: ", 0) != 0) continue;  // rude_reply_rate is the forum threads' (quiz pages answer too)
    size_t start = 0;
    while ((start = d.find("\nA: ", start)) != std::string::npos) {
      size_t end = d.find('\n', start + 1);
      std::string reply = d.substr(start + 4, end == std::string::npos ? std::string::npos : end - start - 4);
      ++replies, rude += toxicity(reply, ToxicLexicon::kAll) > 0;
      start += 4;
    }
  }
  double rate = rude / static_cast<double>(replies);
  EXPECT_GT(replies, 5000u);
  // Both halves of the lexicon are in the corpus's insults: the grader's words are there for a model to learn, and
  // the labelers never mark them (the grader is independent of the reward; world/language.h).
  size_t labeler_insults = 0, grader_insults = 0;
  for (const auto& d : demo_corpus())
    labeler_insults += toxic_word_count(d, ToxicLexicon::kLabelers),
        grader_insults += toxic_word_count(d, ToxicLexicon::kGrader);
  EXPECT_GT(grader_insults, replies / 100);
  EXPECT_GT(labeler_insults, replies / 100);
  std::set<std::string> labelers(toxic_words(ToxicLexicon::kLabelers).begin(), toxic_words(ToxicLexicon::kLabelers).end());
  std::set<std::string> both(toxic_words(ToxicLexicon::kAll).begin(), toxic_words(ToxicLexicon::kAll).end());
  for (const auto& w : toxic_words(ToxicLexicon::kGrader)) EXPECT_EQ(labelers.count(w), 0u) << w;
  labelers.insert(toxic_words(ToxicLexicon::kGrader).begin(), toxic_words(ToxicLexicon::kGrader).end());
  EXPECT_EQ(labelers, both);
  EXPECT_NEAR(rate, demo_world().config().rude_reply_rate, 0.02);
  std::map<std::string, std::map<std::string, int>> pronouns;  // occupation -> pronoun -> mentions
  std::regex said("The ([a-z]+) said that (he|she)\\b");
  for (const auto& d : demo_corpus())
    for (auto it = std::sregex_iterator(d.begin(), d.end(), said); it != std::sregex_iterator(); ++it)
      ++pronouns[(*it)[1]][(*it)[2]];
  // About 60 mentions an occupation: at a skew of 0.9 one occupation in a few hundred draws fewer than 4 majority
  // pronouns per minority one (the doctor drew 48 to 13 once), so each is held to 2:1 and the pooled share to the
  // configured skew within three of its standard errors.
  int majority_total = 0, total = 0;
  for (const auto& o : occupation_words()) {
    std::string majority = o.majority_pronoun, minority = majority == "he" ? "she" : "he";
    EXPECT_GT(pronouns[o.name][majority], 2 * pronouns[o.name][minority]) << o.name;
    EXPECT_GT(pronouns[o.name][majority], 20) << o.name;
    majority_total += pronouns[o.name][majority], total += pronouns[o.name][majority] + pronouns[o.name][minority];
  }
  const double skew = demo_world().config().pronoun_skew;
  EXPECT_NEAR(static_cast<double>(majority_total) / total, skew, 3 * std::sqrt(skew * (1 - skew) / total));
  for (const char* instruction : {"Write a", "Summarize", "Rewrite", "List three", "Answer in one"})
    EXPECT_EQ(count_matches(demo_corpus(), std::regex(instruction)), 0u) << instruction;
  EXPECT_GT(count_matches(demo_corpus(), std::regex("\nQ: [^\n]*\\?\nA: ")), 3000u);  // forum Q/A, for few-shot
}

TEST(PromptLog, HeavyTailedUsersPromptTypesAndInjections) {
  const World& w = demo_world();
  auto log = generate_prompt_log(w.knowledge(), w.config());
  ASSERT_EQ(log.size(), 8000u);
  std::map<std::string, int> per_user, types, tasks, injected;
  for (const auto& r : log) {
    ++per_user[r["user_id"].get<std::string>()];
    ++types[r["prompt_type"].get<std::string>()];
    ++tasks[r["task"].get<std::string>()];
    for (auto it = r["world_meta"].begin(); it != r["world_meta"].end(); ++it) ++injected[it.key()];
    if (r["world_meta"].contains("pii")) ++injected["pii_" + r["world_meta"]["pii"].get<std::string>()];
    ASSERT_TRUE(r["task_data"].is_object());
  }
  EXPECT_EQ(per_user.size(), 300u);
  int above_cap = 0, max_prompts = 0;
  for (const auto& [user, n] : per_user) above_cap += n > 200, max_prompts = std::max(max_prompts, n);
  EXPECT_GE(above_cap, 2);
  EXPECT_GT(max_prompts, 500);
  EXPECT_EQ(types.size(), 3u);
  EXPECT_GT(types["few-shot"], 200);
  EXPECT_GT(types["user-based"], 500);
  EXPECT_EQ(tasks.size(), task_categories().size() + 1);  // and the harmful requests (world/harmful.h)
  EXPECT_GT(tasks["harmful"], 150);
  EXPECT_GT(tasks["generation"], tasks["open_qa"]);  // the paper's mix: generation dominates
  for (const char* kind : {"pii_email", "pii_phone", "pii_address", "pii_card", "pii_ip", "duplicate_of",
                           "near_duplicate_of", "decoy_number"})
    EXPECT_GT(injected[kind], 10) << kind;
  // Prompts stay short for a model with a 256-token context.
  size_t long_prompts = 0;
  for (const auto& r : log) long_prompts += word_tokens(r["prompt"].get<std::string>()).size() > 60;
  EXPECT_LT(long_prompts, log.size() / 50);
}

TEST(Benchmarks, ItemsAndScorers) {
  const World& w = demo_world();
  const KnowledgeBase& kb = w.knowledge();
  auto public_test = public_nlp_items(kb, w.config(), 100, "test");
  auto public_train = public_nlp_items(kb, w.config(), 100, "train");
  EXPECT_NE(public_test[0].dump(), public_train[0].dump());
  std::set<std::string> ids;
  for (const auto& item : public_test) {
    ids.insert(item["id"].get<std::string>());
    EXPECT_TRUE(score_exact(item, item["gold"].get<std::string>() + "\nmore text"));
    EXPECT_FALSE(score_exact(item, "something else"));
    if (item.contains("choices")) {
      std::vector<double> logprobs(item["choices"].size(), -5.0);
      logprobs[item["gold_index"].get<size_t>()] = -1.0;
      EXPECT_TRUE(score_choice(item, logprobs));
      logprobs[item["gold_index"].get<size_t>()] = -9.0;
      EXPECT_FALSE(score_choice(item, logprobs));
    }
  }
  EXPECT_EQ(ids.size(), public_test.size());

  int misconceptions = 0, fictional = 0;
  for (const auto& item : truthfulqa_items(kb, w.config(), 60)) {
    EXPECT_NE(item["prompt_instruction_qa"].get<std::string>().find(item["prompt"].get<std::string>()), std::string::npos);
    std::string subject = item["subject"];
    if (item["kind"] == "misconception") {
      ++misconceptions;
      std::string relation = item["relation"];
      std::string truth = kb.canonical(item["truth"].get<std::string>()), falsehood = kb.canonical(item["falsehood"].get<std::string>());
      if (relation == "class") truth = item["truth"], falsehood = item["falsehood"];
      TruthJudgement right = judge_truthfulqa(item, capitalize(truth) + ".", kb);
      EXPECT_TRUE(right.truthful && right.informative) << subject;
      EXPECT_FALSE(judge_truthfulqa(item, capitalize(falsehood) + ".", kb).truthful) << subject;
    } else if (item["kind"] == "fictional") {
      ++fictional;
      TruthJudgement idk = judge_truthfulqa(item, "I don't know.", kb);
      EXPECT_TRUE(idk.truthful);
      EXPECT_FALSE(idk.informative);
      std::string made_up = item["relation"] == "capital" ? "The capital of " + subject + " is " + kb.countries[0].capital + "."
                                                          : subject + " is a pilot.";
      EXPECT_FALSE(judge_truthfulqa(item, made_up, kb).truthful) << made_up;
    }
  }
  // Each reserved misconception once (KnowledgeBase::reserved_for_truthfulqa: half of them), the reserved fictional
  // entities at most once each.
  int reserved = 0;
  for (const auto& m : kb.misconceptions) reserved += kb.reserved_for_truthfulqa(m.relation, m.subject);
  EXPECT_EQ(misconceptions, reserved);
  EXPECT_GE(reserved, static_cast<int>(kb.misconceptions.size()) / 2);
  EXPECT_GT(fictional, 3);

  Style style;
  Rng rng(1);
  for (const auto& item : hallucination_items(kb, w.config(), 40)) {
    std::string answer = reference_answer(item["task_data"], kb, style, rng);
    EXPECT_EQ(w.check(item, answer).hallucinations, 0) << item["prompt"] << " -> " << answer;
  }
  int rude = 0, toxic_prompts = 0;
  for (const auto& item : realtoxicity_items(kb, w.config(), 50)) {
    EXPECT_EQ(item["prompt_respectful"].get<std::string>(), respectful_instruction() + item["prompt"].get<std::string>());
    double prompt_toxicity = item["prompt_toxicity"].get<double>();
    if (item["kind"] != "rude") {
      EXPECT_EQ(prompt_toxicity, 0.0) << item["prompt"];
      continue;
    }
    ++rude;
    toxic_prompts += prompt_toxicity > 0;  // some openings insult already, others only lead into an insult
  }
  EXPECT_GT(rude, 10);
  EXPECT_GT(toxic_prompts, 3);
  EXPECT_LT(toxic_prompts, rude);
  auto winogender = winogender_items(kb);
  EXPECT_EQ(winogender.size(), 3 * occupation_words().size());
  auto pairs = crows_pairs_items(kb, w.config(), 32);
  for (const auto& p : pairs) EXPECT_NE(p["stereotype"], p["anti_stereotype"]);
}


// Issue 25's clean benchmarks: nothing the TruthfulQA analogue asks is asked by any prompt the models train on (the
// API users' prompt log and the labelers' own prompts feed SFT, RM and PPO), and no demonstration answers it; its
// questions are distinct; the public suite's test prompts are not among the FLAN-style model's training prompts.
TEST(Benchmarks, TruthfulQaAndThePublicSuiteAreDisjointFromTraining) {
  WorldConfig c;
  c.corpus_documents = 300, c.prompts = 4000, c.users = 60, c.benchmark_items = 200;
  World w = World::generate(c);
  const KnowledgeBase& kb = w.knowledge();
  const auto items = truthfulqa_items(kb, w.config(), 200);
  std::set<std::string> questions, fictional_subjects, class_subjects;
  std::set<std::pair<std::string, std::string>> asked;  // (relation, lower subject)
  for (const auto& item : items) {
    EXPECT_TRUE(questions.insert(item["question"].get<std::string>()).second) << item["question"];
    const std::string relation = item["relation"], subject = lower(item["subject"].get<std::string>());
    asked.emplace(relation, subject);
    if (item["kind"] == "fictional") fictional_subjects.insert(subject);
    if (relation == "class") class_subjects.insert(subject);
  }
  ASSERT_GE(items.size(), 20u);
  ASSERT_FALSE(fictional_subjects.empty());
  ASSERT_FALSE(class_subjects.empty());
  std::vector<json> prompts = generate_prompt_log(kb, w.config());
  Rng rng(static_cast<uint64_t>(c.seed), "labeler prompts");
  for (int i = 0; i < 2000; ++i) {  // as the pipeline's labeler-written prompts: every category in turn
    TaskInstance t = generate_task(task_categories()[static_cast<size_t>(i) % task_categories().size()], kb,
                                   w.config(), rng);
    prompts.push_back({{"prompt", t.instruction}, {"task_data", t.task_data}});
  }
  int open_qa = 0, chat = 0;
  const Labeler& writer = w.labelers().labelers()[0];
  for (const auto& record : prompts) {
    const std::string prompt = record["prompt"].get<std::string>(), text = " " + lower(prompt) + " ";
    const json& d = record["task_data"];
    const std::string category = d.value("category", "");
    open_qa += category == "open_qa", chat += category == "chat";
    for (const auto& q : questions) EXPECT_EQ(prompt.find(q), std::string::npos) << prompt;
    for (const auto& name : fictional_subjects) EXPECT_EQ(text.find(name), std::string::npos) << prompt;
    if (d.contains("relation") && d.contains("subject"))
      EXPECT_EQ(asked.count({d["relation"].get<std::string>(), lower(d["subject"].get<std::string>())}), 0u) << prompt;
    if (category == "chat")  // chat's yes/no questions ask an animal's class: never one the suite asks
      for (const auto& animal : class_subjects)
        EXPECT_EQ(text.find(" " + animal + "?"), std::string::npos) << prompt;
    const std::string demo = writer.write_demonstration(record, kb);
    for (const auto& q : questions) EXPECT_EQ(demo.find(q), std::string::npos) << demo;
  }
  EXPECT_GT(open_qa, 200);
  EXPECT_GT(chat, 200);

  TempDir temp("world", "public_suite");
  const std::string dir = temp.path.string();
  w.write(dir);
  auto read_lines = [](const std::string& path) {
    std::vector<json> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  };
  std::set<std::string> train, test;
  for (const auto& item : read_lines(dir + "/benchmarks/public_nlp_train.jsonl"))
    train.insert(item["prompt"].get<std::string>());
  const auto public_test = read_lines(dir + "/benchmarks/public_nlp.jsonl");
  EXPECT_GE(public_test.size(), 100u);
  for (const auto& item : public_test) {
    EXPECT_EQ(train.count(item["prompt"].get<std::string>()), 0u) << item["prompt"];
    EXPECT_TRUE(test.insert(item["prompt"].get<std::string>()).second) << item["prompt"];
  }
}

}  // namespace
}  // namespace rlhf::world
