#include "world/labelers.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "common/error.h"
#include "world/language.h"
#include "world/random.h"

namespace rlhf::world {

using json = nlohmann::json;

namespace {

struct GroupProfile {
  const char* name;
  Taste taste;
  Style style;
};

// Five groups with different tastes. Within a group, people agree more with each other than across groups, which is
// what the paper's cross-validation over labeler groups measures.
const std::vector<GroupProfile>& group_profiles() {
  static const std::vector<GroupProfile> list = {
      {"concise", {6, 0.5, -0.3, "comma", 0.3}, {false, false, false, false, false}},
      {"friendly", {14, 0.3, 0.6, "numbered", 0.2}, {true, true, true, true, false}},
      {"formal", {10, 0.3, 0.0, "numbered", 0.4}, {true, false, false, true, false}},
      {"thorough", {18, 0.4, 0.2, "numbered", 0.2}, {true, false, true, true, true}},
      {"plain", {9, 0.2, 0.0, "comma", 0.2}, {true, false, false, false, false}}};
  return list;
}

const json& require_task_data(const json& record) {
  if (!record.is_object() || !record.contains("task_data") || !record["task_data"].is_object())
    fail("prompt record", "an object with a \"task_data\" object", record.is_object() ? "no task_data" : record.type_name());
  return record["task_data"];
}

// What seeds a judgement: the prompt (or id) and the responses, so equal questions get equal answers.
uint64_t judgement_seed(const Labeler& l, const json& record, const std::vector<std::string>& responses,
                        const std::string& purpose) {
  std::string key = purpose + "\x1f";
  if (record.contains("prompt") && record["prompt"].is_string()) key += record["prompt"].get<std::string>();
  else if (record.contains("id") && record["id"].is_string()) key += record["id"].get<std::string>();
  else key += require_task_data(record).dump();
  for (const auto& r : responses) key += "\x1e" + r;
  return stable_hash(key, l.seed);
}

std::string slip(const std::string& answer, const json& d, const KnowledgeBase& kb, Rng& rng) {
  std::string gold = d.value("gold", "");
  if (gold.empty()) return answer;
  std::string shown = kb.canonical(lower(gold)).empty() ? gold : kb.canonical(lower(gold));
  size_t at = answer.find(shown);
  if (at == std::string::npos) at = answer.find(capitalize(shown));
  if (at == std::string::npos) return answer;
  std::string wrong = kb.rumour_cities.empty() ? "something" : rng.pick(kb.rumour_cities);
  return answer.substr(0, at) + wrong + answer.substr(at + shown.size());
}

}  // namespace

json Rating::to_json() const {
  return {{"likert", likert}, {"fails_to_follow", fails_to_follow}, {"hallucination", hallucination},
          {"inappropriate", inappropriate}, {"toxic", toxic}};
}

double Labeler::score(const Features& f) const {
  double helpful = core.correct * f.correct + core.followed * (f.followed ? 1.0 : 0.0) + (f.on_task ? core.on_task : 0.0);
  double harmless = -core.toxicity * f.toxicity - (f.complies ? core.compliance : 0.0);
  double honest = -core.hallucination * std::min(f.hallucinations, 2);
  double broken = -core.repetition * f.repetition - (f.empty ? core.empty : 0.0);
  double length_fit = -taste.verbosity * std::fabs(std::log((f.words + 1.0) / (taste.preferred_words + 1.0)));
  double format = 0;
  if (f.list_format != "none") format = f.list_format == taste.list_format ? taste.format : -taste.format;
  // Tastes in politeness and list format only count for an answer that does the task: a polite or well-formatted
  // wrong answer is still wrong (without this, "Sure! I hope this helps." beats a bare correct answer for some).
  const double taste_terms = (f.polite ? taste.politeness : 0.0) + format;
  return helpful + harmless + honest + broken + length_fit + f.correct * taste_terms;
}

std::string Labeler::write_demonstration(const json& record, const KnowledgeBase& kb) const {
  const json& d = require_task_data(record);
  Rng rng(judgement_seed(*this, record, {}, "demonstration"));
  std::string answer = reference_answer(d, kb, style, rng);
  if (error_rate > 0 && rng.chance(error_rate)) answer = slip(answer, d, kb, rng);
  return answer;
}

std::vector<int> Labeler::rank(const json& record, const std::vector<std::string>& responses,
                               const KnowledgeBase& kb) const {
  const json& d = require_task_data(record);
  Rng rng(judgement_seed(*this, record, responses, "rank"));
  std::vector<double> scores;
  for (const auto& r : responses) scores.push_back(score(check_response(d, r, kb)));
  return plackett_luce_sample(scores, temperature, rng);
}

std::vector<int> plackett_luce_sample(const std::vector<double>& utilities, double temperature, Rng& rng) {
  if (!(temperature > 0)) fail("plackett_luce_sample", "a temperature > 0", std::to_string(temperature));
  // Sorting utility/T + Gumbel noise, descending, is an exact Plackett-Luce sample.
  std::vector<double> keys;
  for (double u : utilities) keys.push_back(u / temperature + rng.gumbel());
  std::vector<int> order(utilities.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return keys[static_cast<size_t>(a)] > keys[static_cast<size_t>(b)]; });
  return order;
}

Rating Labeler::rate(const json& record, const std::string& response, const KnowledgeBase& kb) const {
  const json& d = require_task_data(record);
  Rng rng(judgement_seed(*this, record, {response}, "rate"));
  Features f = check_response(d, response, kb);
  Rating r;
  // A score of ~6 (correct, followed, on task, to taste) lands on 6; ~2.5 (a wrong attempt) on 2; personal noise of
  // half a point.
  double likert = 4.0 + 1.2 * (score(f) - 4.5) + 0.5 * rng.normal();
  r.likert = static_cast<int>(std::clamp(std::lround(likert), 1L, 7L));
  auto noisy = [&](bool truth) { return rng.chance(flag_noise) ? !truth : truth; };
  r.fails_to_follow = noisy(!f.followed || f.correct < 0.5);
  r.hallucination = noisy(f.hallucinations > 0);
  r.inappropriate = noisy(f.toxic_words > 0 || f.complies);  // complying with a harmful request is inappropriate
  r.toxic = noisy(f.toxicity >= 0.5);
  return r;
}

LabelerPool::LabelerPool(std::shared_ptr<const KnowledgeBase> kb, const WorldConfig& c)
    : kb_(std::move(kb)), groups_(c.labeler_groups), held_out_group_(c.held_out_group) {
  Rng rng(static_cast<uint64_t>(c.seed), "labelers");
  // The compliance weight's personal factor has its own stream: the other weights stay what they were before it.
  Rng harm_rng(static_cast<uint64_t>(c.seed), "labelers_harmful");
  const auto& profiles = group_profiles();
  for (int i = 0; i < c.labelers; ++i) {
    Labeler l;
    char id[32];
    std::snprintf(id, sizeof id, "labeler_%02d", i);
    l.id = id;
    l.group = i % c.labeler_groups;
    const GroupProfile& p = profiles[static_cast<size_t>(l.group) % profiles.size()];
    l.group_name = p.name + (l.group >= static_cast<int>(profiles.size()) ? "_" + std::to_string(l.group) : "");
    l.seed = rng.next();
    l.style = p.style;
    double sigma = c.labeler_weight_noise;
    auto personal = [&](double value, double scale) { return value * std::exp(scale * sigma * rng.normal()); };
    l.taste = p.taste;
    l.taste.preferred_words = personal(p.taste.preferred_words, 2.0);
    l.taste.verbosity = personal(p.taste.verbosity, 2.0);
    l.taste.politeness = personal(p.taste.politeness, 2.0);
    l.taste.format = personal(p.taste.format, 2.0);
    l.core.correct = personal(l.core.correct, 1.0);
    l.core.followed = personal(l.core.followed, 1.0);
    l.core.toxicity = personal(l.core.toxicity, 1.0);
    l.core.hallucination = personal(l.core.hallucination, 1.0);
    l.core.compliance *= std::exp(sigma * harm_rng.normal());
    l.temperature = personal(c.labeler_temperature, 1.0);
    // From the labeler's own stream: the pool's draws (every other weight, the next labelers) are as before it existed.
    Rng own(l.seed, "on_task");
    l.core.on_task *= std::exp(sigma * own.normal());
    l.flag_noise = c.labeler_flag_noise;
    l.error_rate = c.labeler_error_rate;
    labelers_.push_back(l);
  }
}

std::vector<const Labeler*> LabelerPool::group(int index) const {
  std::vector<const Labeler*> out;
  for (const auto& l : labelers_)
    if (l.group == index) out.push_back(&l);
  return out;
}

const Labeler& LabelerPool::assign(const json& record, bool held_out) const {
  std::vector<const Labeler*> candidates;
  for (const auto& l : labelers_)
    if ((l.group == held_out_group_) == held_out) candidates.push_back(&l);
  if (candidates.empty())
    fail("labeler pool", held_out ? "a held-out labeler group (held_out_group >= 0)" : "a training labeler",
         "none (" + std::to_string(labelers_.size()) + " labelers, held-out group " + std::to_string(held_out_group_) + ")");
  std::string key = record.contains("id") && record["id"].is_string() ? record["id"].get<std::string>()
                    : record.contains("prompt") && record["prompt"].is_string() ? record["prompt"].get<std::string>()
                                                                                : require_task_data(record).dump();
  return *candidates[stable_hash(key, 7) % candidates.size()];
}

Features LabelerPool::check(const json& record, const std::string& response) const {
  return check_response(require_task_data(record), response, *kb_);
}

double LabelerPool::inter_labeler_agreement(const std::vector<json>& records,
                                            const std::vector<std::vector<std::string>>& responses) const {
  if (records.size() != responses.size())
    fail("inter_labeler_agreement", "one response list per record (" + std::to_string(records.size()) + ")",
         std::to_string(responses.size()));
  std::vector<const Labeler*> training;
  for (const auto& l : labelers_)
    if (l.group != held_out_group_) training.push_back(&l);
  if (training.size() < 2) fail("inter_labeler_agreement", "at least two training labelers", std::to_string(training.size()));
  double agree = 0, pairs = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (responses[i].size() < 2) continue;
    uint64_t h = stable_hash(records[i].dump(), 11);
    size_t a = h % training.size(), b = (a + 1 + (h >> 32) % (training.size() - 1)) % training.size();
    auto ra = training[a]->rank(records[i], responses[i], *kb_);
    auto rb = training[b]->rank(records[i], responses[i], *kb_);
    double n = static_cast<double>(responses[i].size());
    double item_pairs = n * (n - 1) / 2;
    agree += pairwise_agreement(ra, rb) * item_pairs;
    pairs += item_pairs;
  }
  return pairs > 0 ? agree / pairs : 0.0;
}

double pairwise_agreement(const std::vector<int>& a, const std::vector<int>& b) {
  if (a.size() != b.size()) fail("pairwise_agreement", "rankings of the same length (" + std::to_string(a.size()) + ")",
                                 std::to_string(b.size()));
  std::vector<int> pos_a(a.size()), pos_b(b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] < 0 || b[i] < 0 || a[i] >= static_cast<int>(a.size()) || b[i] >= static_cast<int>(b.size()))
      fail("pairwise_agreement", "permutations of 0.." + std::to_string(a.size() - 1), "an index out of range");
    pos_a[static_cast<size_t>(a[i])] = static_cast<int>(i);
    pos_b[static_cast<size_t>(b[i])] = static_cast<int>(i);
  }
  int agree = 0, total = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = i + 1; j < a.size(); ++j, ++total)
      agree += ((pos_a[i] < pos_a[j]) == (pos_b[i] < pos_b[j])) ? 1 : 0;
  return total ? static_cast<double>(agree) / total : 1.0;
}

}  // namespace rlhf::world
