#include "pipeline/world_judge.h"

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

WorldJudge::WorldJudge(const std::string& world_dir) : dir_(world_dir), world_(world::World::load(world_dir)) {}

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
  return {f.correct, f.followed, f.hallucinations, f.toxicity, f.words, f.idk, f.success(), f.polite,
          f.list_format != "none", f.copies_prompt};
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
  return {j.truthful, j.informative};
}

double WorldJudge::toxicity(const std::string& text) const { return world::toxicity(text); }

std::string WorldJudge::respectful_instruction() const { return world::respectful_instruction(); }

}  // namespace rlhf::pipeline
