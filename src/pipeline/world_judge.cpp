#include "pipeline/world_judge.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "data/jsonl.h"
#include "world/benchmarks.h"
#include "world/language.h"

namespace rlhf::pipeline {

using json = nlohmann::json;

namespace {

const world::Labeler& labeler_for(const world::World& w, const json& record, eval::LabelerSet set) {
  return w.labelers().assign(record, set == eval::LabelerSet::kHeldOut);
}

}  // namespace

WorldJudge::WorldJudge(const std::string& world_dir) : dir_(world_dir), world_(world::World::load(world_dir)) {
  const world::KnowledgeBase& kb = world_.knowledge();
  std::map<world::EntityType, std::set<std::string>> names;
  auto add = [&](const std::string& name) {
    const world::EntityType type = kb.type_of(world::lower(name));
    if (type != world::EntityType::None && name.find(' ') == std::string::npos) names[type].insert(name);
  };
  for (const auto& c : kb.countries) add(c.name), add(c.capital), add(c.largest_city), add(c.region);
  for (const auto& a : kb.animals) add(a.name), add(a.animal_class);
  for (const auto& t : kb.things) add(t.name), add(t.colour);
  for (const auto& p : kb.people) add(p.occupation);
  for (const auto& [type, set] : names) names_by_type_[type].assign(set.begin(), set.end());
}

std::string WorldJudge::description() const {
  const auto& c = world_.config();
  return "the embedded world (preset " + c.preset + ", seed " + std::to_string(c.seed) + ", " +
         std::to_string(world_.labelers().labelers().size()) + " labelers in " + std::to_string(world_.labelers().groups()) +
         " groups, held-out group " + std::to_string(world_.labelers().held_out_group()) + ")";
}

bool WorldJudge::has_held_out_labelers() const { return world_.labelers().held_out_group() >= 0; }

double WorldJudge::compare(const json& record, const std::string& response, const std::string& baseline,
                           eval::LabelerSet set) const {
  if (response == baseline) return 0.5;  // the same text: nothing to prefer
  std::vector<int> ranking = labeler_for(world_, record, set).rank(record, {response, baseline}, world_.knowledge());
  return ranking.front() == 0 ? 1.0 : 0.0;
}

eval::JudgeRating WorldJudge::rate(const json& record, const std::string& response, eval::LabelerSet set) const {
  world::Rating r = labeler_for(world_, record, set).rate(record, response, world_.knowledge());
  return {r.likert, r.fails_to_follow, r.hallucination, r.inappropriate, r.toxic};
}

eval::JudgeFeatures WorldJudge::check(const json& record, const std::string& response) const {
  world::Features f = world_.check(record, response);
  eval::JudgeFeatures out{f.correct, f.followed, f.hallucinations, f.toxicity, f.words, f.idk, f.success(), f.polite,
                          f.list_format != "none", f.copies_prompt, f.answerable};
  out.on_task = f.on_task;
  out.harmful = f.harmful, out.complies = f.complies, out.refuses = f.refuses;
  if (f.harmful) out.harmful_kind = record["task_data"].value("kind", std::string());
  return out;
}

double WorldJudge::agreement(const std::vector<json>& records, const std::vector<std::vector<std::string>>& responses) const {
  return world_.labelers().inter_labeler_agreement(records, responses);
}

std::vector<json> WorldJudge::benchmark_items(const std::string& suite) const {
  const std::string path = dir_ + "/benchmarks/" + suite + ".jsonl";
  if (!file_exists(path)) return {};
  std::vector<json> items;
  for_each_jsonl(path, {}, [&](const JsonlLine& line) {
    if (!line.value.is_object()) fail(line.where, "a benchmark item (a JSON object)", describe_json(line.value));
    items.push_back(line.value);
  });
  return items;
}

bool WorldJudge::score_exact(const json& item, const std::string& response) const { return world::score_exact(item, response); }

bool WorldJudge::score_choice(const json& item, const std::vector<double>& logprobs) const {
  return world::score_choice(item, logprobs);
}

eval::TruthJudgement WorldJudge::judge_truthfulness(const json& item, const std::string& response) const {
  world::TruthJudgement j = world::judge_truthfulqa(item, response, world_.knowledge());
  return {j.truthful, j.informative, j.idk};
}

// The grader's half of the lexicon: the labelers (and so the RM) never see it (world/language.h).
double WorldJudge::toxicity(const std::string& text) const { return world::toxicity(text, world::ToxicLexicon::kGrader); }

std::string WorldJudge::respectful_instruction() const { return world::respectful_instruction(); }

std::string WorldJudge::name_swapped(const json& record, const std::string& response) const {
  if (!record.contains("prompt") || !record["prompt"].is_string() || !check(record, response).success) return "";
  const std::vector<std::string> prompt_words = world::word_tokens(record["prompt"].get<std::string>());
  const std::set<std::string> in_prompt(prompt_words.begin(), prompt_words.end());
  auto is_letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  // Every whole word of `text` equal to `word` (ignoring case) becomes `name`, capitalised where the word was.
  auto replace_word = [&](const std::string& text, const std::string& word, const std::string& name) {
    std::string out;
    for (size_t i = 0; i < text.size();) {
      size_t end = i;
      while (end < text.size() && is_letter(text[end])) ++end;
      if (end == i) { out += text[i++]; continue; }
      const std::string run = text.substr(i, end - i);
      const bool upper = std::isupper(static_cast<unsigned char>(run[0])) != 0;
      out += world::lower(run) == word ? (upper ? world::capitalize(name) : world::lower(name)) : run;
      i = end;
    }
    return out;
  };
  std::set<std::string> tried;
  for (const std::string& word : world::word_tokens(response)) {
    if (!in_prompt.count(word) || !tried.insert(word).second) continue;
    auto pool = names_by_type_.find(world_.knowledge().type_of(word));
    if (pool == names_by_type_.end() || pool->second.size() < 2) continue;
    // The next names of the same kind in a fixed order: deterministic, and never the word itself.
    const auto& names = pool->second;
    const size_t at = static_cast<size_t>(
        std::find_if(names.begin(), names.end(), [&](const std::string& n) { return world::lower(n) == word; }) - names.begin());
    for (size_t step = 1; step <= 3 && step < names.size(); ++step) {
      const std::string& other = names[(at + step) % names.size()];
      if (in_prompt.count(world::lower(other))) continue;  // a name the prompt holds could still be right
      const std::string edited = replace_word(response, word, other);
      if (edited != response && !check(record, edited).success) return edited;
    }
  }
  return "";
}

}  // namespace rlhf::pipeline
