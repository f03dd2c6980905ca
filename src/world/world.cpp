#include "world/world.h"

#include <filesystem>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "world/benchmarks.h"
#include "world/corpus.h"
#include "world/harmful.h"
#include "world/users.h"

namespace rlhf::world {

using json = nlohmann::json;

namespace {

constexpr int kFormatVersion = 1;

struct FileCount { std::string name; size_t lines = 0, bytes = 0; };

FileCount write_jsonl(const std::string& dir, const std::string& name, const std::vector<json>& records) {
  AtomicWriter writer(dir + "/" + name);
  for (const auto& r : records) writer.write(r.dump() + "\n");
  size_t bytes = writer.bytes_written();
  writer.commit();
  return {name, records.size(), bytes};
}

FileCount write_texts(const std::string& dir, const std::string& name, const std::vector<std::string>& texts) {
  AtomicWriter writer(dir + "/" + name);
  for (const auto& t : texts) writer.write(json{{"text", t}}.dump() + "\n");
  size_t bytes = writer.bytes_written();
  writer.commit();
  return {name, texts.size(), bytes};
}

std::string readme(const WorldConfig& c) {
  return "This folder is a generated instruction world (rlhf world --preset " + c.preset + " --seed " +
         std::to_string(c.seed) + ").\n"
         "Same preset, seed and knobs give identical files. See docs/world.md in rlhf.cpp.\n\n"
         "corpus.jsonl          pretraining text, one {\"text\"} document a line: encyclopaedia facts, stories, lists,\n"
         "                      quiz pages and forum threads, with misconceptions, made-up answers about unknown\n"
         "                      entities, rude replies and occupation/pronoun skew in it. No instruction demonstrations.\n"
         "heldout_corpus.jsonl  more of the same from another random stream (validation perplexity).\n"
         "prompt_log.jsonl      the raw API prompt log: {id, user_id, prompt, prompt_type (plain|few-shot|user-based),\n"
         "                      task, task_data (what the judges need), world_meta (what was injected: pii, duplicates,\n"
         "                      harmful requests)}.\n"
         "                      Curate it with: rlhf data curate --input prompt_log.jsonl --out curated\n"
         "world.json            config + knowledge base + labeler roster; the pipeline reloads the judges from it.\n"
         "benchmarks/public_nlp_train.jsonl  FLAN/T0-style items with a completion (the FLAN-style SFT baseline).\n"
         "benchmarks/public_nlp.jsonl        the public NLP suite (alignment tax): prompt, gold, choices/gold_index.\n"
         "benchmarks/truthfulqa.jsonl        misconception/fictional/control questions; prompt and\n"
         "                                   prompt_instruction_qa; judged truthful and informative.\n"
         "benchmarks/hallucination.jsonl     closed-domain prompt records (summarization, closed QA).\n"
         "benchmarks/realtoxicity.jsonl      forum openings; prompt and prompt_respectful; lexicon toxicity in [0,1].\n"
         "benchmarks/winogender.jsonl        occupation sentences with a pronoun slot (entropy of the choice).\n"
         "benchmarks/crows_pairs.jsonl       stereotype / anti-stereotype sentence pairs.\n"
         "benchmarks/copying.jsonl           in-context copying probes (a town named once, then cut where it comes back).\n"
         "benchmarks/harmful.jsonl           harmful requests (insult, private details, false claim) absent from the\n"
         "                                   prompt log; a response complies, refuses, or neither.\n";
}

}  // namespace

World World::generate(const WorldConfig& config) {
  World w;
  w.config_ = resolve(config);
  w.kb_ = std::make_shared<const KnowledgeBase>(generate_knowledge(w.config_));
  w.labelers_ = std::make_shared<const LabelerPool>(w.kb_, w.config_);
  return w;
}

World World::load(const std::string& path) {
  std::string file = std::filesystem::is_directory(path) ? path + "/world.json" : path;
  if (!file_exists(file)) fail(file, "a world.json written by `rlhf world`", "no such file");
  json j = read_json(file);
  if (!j.is_object() || j.value("format", "") != "rlhf-world")
    fail(file, "\"format\": \"rlhf-world\"", j.is_object() ? j.value("format", std::string("none")) : j.type_name());
  if (j.value("version", 0) != kFormatVersion)
    fail(file, "world format version " + std::to_string(kFormatVersion), std::to_string(j.value("version", 0)));
  World w;
  if (!j.contains("config") || !j.contains("knowledge")) fail(file, "\"config\" and \"knowledge\"", "a field missing");
  WorldConfig config;
  from_json(j["config"], config);
  w.config_ = resolve(config);
  KnowledgeBase kb;
  from_json(j["knowledge"], kb);
  w.kb_ = std::make_shared<const KnowledgeBase>(std::move(kb));
  w.labelers_ = std::make_shared<const LabelerPool>(w.kb_, w.config_);
  return w;
}

std::vector<json> World::labeler_prompts(int count, const std::string& salt) const {
  return generate_labeler_prompts(*kb_, config_, count, salt);
}

json World::to_json() const {
  json j = {{"format", "rlhf-world"}, {"version", kFormatVersion}};
  j["config"] = config_;
  j["knowledge"] = *kb_;
  for (const auto& l : labelers_->labelers())
    j["labelers"].push_back({{"id", l.id}, {"group", l.group}, {"group_name", l.group_name}});
  return j;
}

json World::write(const std::string& dir) const {
  make_dirs(dir + "/benchmarks");
  const WorldConfig& c = config_;
  std::vector<FileCount> files;
  files.push_back(write_texts(dir, "corpus.jsonl", generate_corpus(*kb_, c, c.corpus_documents, "corpus")));
  files.push_back(write_texts(dir, "heldout_corpus.jsonl", generate_corpus(*kb_, c, c.heldout_documents, "heldout")));
  const std::vector<json> log = generate_prompt_log(*kb_, c);
  files.push_back(write_jsonl(dir, "prompt_log.jsonl", log));
  int n = c.benchmark_items;
  const auto public_train = public_nlp_items(*kb_, c, 5 * n, "train");
  files.push_back(write_jsonl(dir, "benchmarks/public_nlp_train.jsonl", public_train));
  // The public suite's test items: none that the FLAN-style model trains on, each prompt once (up to n of them).
  std::set<std::string> seen;
  for (const auto& item : public_train) seen.insert(item["prompt"].get<std::string>());
  std::vector<json> public_test;
  for (const auto& item : public_nlp_items(*kb_, c, 10 * n, "test"))
    if (static_cast<int>(public_test.size()) < n && seen.insert(item["prompt"].get<std::string>()).second)
      public_test.push_back(item);
  files.push_back(write_jsonl(dir, "benchmarks/public_nlp.jsonl", public_test));
  files.push_back(write_jsonl(dir, "benchmarks/truthfulqa.jsonl", truthfulqa_items(*kb_, c, n)));
  files.push_back(write_jsonl(dir, "benchmarks/hallucination.jsonl", hallucination_items(*kb_, c, n)));
  files.push_back(write_jsonl(dir, "benchmarks/realtoxicity.jsonl", realtoxicity_items(*kb_, c, n)));
  files.push_back(write_jsonl(dir, "benchmarks/winogender.jsonl", winogender_items(*kb_)));
  files.push_back(write_jsonl(dir, "benchmarks/crows_pairs.jsonl", crows_pairs_items(*kb_, c, n)));
  files.push_back(write_jsonl(dir, "benchmarks/copying.jsonl", copying_items(*kb_, c, n)));
  // Harmful requests no split of the prompt log holds (the test split's few are too few for an interval).
  std::set<std::string> logged;
  for (const auto& r : log) logged.insert(r["prompt"].get<std::string>());
  files.push_back(write_jsonl(dir, "benchmarks/harmful.jsonl", harmful_items(*kb_, c, n, logged)));
  write_file_atomic(dir + "/world.json", to_json().dump(1) + "\n");
  write_file_atomic(dir + "/README.txt", readme(c));
  json summary = {{"dir", dir}, {"files", json::array()}};
  for (const auto& f : files) summary["files"].push_back({{"name", f.name}, {"lines", f.lines}, {"bytes", f.bytes}});
  return summary;
}

}  // namespace rlhf::world
