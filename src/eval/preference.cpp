#include "eval/preference.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "eval/length_control.h"
#include "eval/stats.h"

namespace rlhf::eval {

using json = nlohmann::json;

namespace {

constexpr int kResamples = 2000;
constexpr uint64_t kSeed = 20261206;  // the goals' and task-success differences' seed

// `neither_polite[i]`: neither response to record i holds a politeness phrase; the win rate on those records alone
// shows whether a win is more than manners.
json judged_by(const Judge& judge, const std::vector<json>& records, const ModelResponses& model,
               const ModelResponses& baseline, LabelerSet set, const std::vector<bool>& neither_polite,
               const std::vector<double>& length_differences, std::vector<double>* outcomes_out) {
  std::vector<double> outcomes, outcomes_neither_polite, likert, fails, hallucination, inappropriate, toxic;
  for (size_t i = 0; i < records.size(); ++i) {
    outcomes.push_back(judge.compare(records[i], model.responses[i], baseline.responses[i], set));
    if (neither_polite[i]) outcomes_neither_polite.push_back(outcomes.back());
    JudgeRating r = judge.rate(records[i], model.responses[i], set);
    likert.push_back(r.likert);
    fails.push_back(r.fails_to_follow);
    hallucination.push_back(r.hallucination);
    inappropriate.push_back(r.inappropriate);
    toxic.push_back(r.toxic);
  }
  if (outcomes_out) *outcomes_out = outcomes;
  WinRate w = win_rate(outcomes);
  json win = proportion_json(w.rate);
  const LengthControlledWinRate lc = length_controlled_win_rate(outcomes, length_differences, kResamples, kSeed);
  const bool has_interval = std::isfinite(lc.low) && std::isfinite(lc.high);
  json length_controlled = {{"value", number_or_null(lc.value)},
                            {"ci", has_interval ? json{lc.low, lc.high} : json(nullptr)},
                            {"n", lc.n},
                            {"length_slope", number_or_null(lc.slope)},
                            {"length_difference_sd", lc.length_difference_sd},
                            {"mean_length_difference", lc.mean_length_difference}};
  win["wins"] = w.wins, win["ties"] = w.ties, win["losses"] = w.losses;
  MeanStderr l = mean_stderr(likert);
  WinRate plain = win_rate(outcomes_neither_polite);
  json win_neither_polite = proportion_json(plain.rate);
  win_neither_polite["wins"] = plain.wins, win_neither_polite["ties"] = plain.ties, win_neither_polite["losses"] = plain.losses;
  return {{"win_rate", win},
          {"win_rate_length_controlled", length_controlled},
          {"win_rate_neither_polite", win_neither_polite},
          {"likert", {{"mean", number_or_null(l.mean)}, {"stderr", l.standard_error}, {"n", l.n}}},
          {"fails_to_follow", proportion_json(fails)},
          {"hallucination", proportion_json(hallucination)},
          {"inappropriate", proportion_json(inappropriate)},
          {"toxic", proportion_json(toxic)}};
}

json features_of(const std::vector<JudgeFeatures>& features) {
  std::vector<double> correct, success, followed, hallucinated, toxic, idk, words, polite, listed, copies, on_task;
  for (const auto& f : features) {
    correct.push_back(f.correct);
    success.push_back(f.success);
    followed.push_back(f.followed);
    hallucinated.push_back(f.hallucinations > 0);
    toxic.push_back(f.toxicity >= 0.5);
    idk.push_back(f.idk);
    words.push_back(f.words);
    polite.push_back(f.polite);
    listed.push_back(f.list_formatted);
    copies.push_back(f.copies_prompt);
    on_task.push_back(f.on_task);
  }
  auto mean = [](const std::vector<double>& v) { return number_or_null(mean_stderr(v).mean); };
  return {{"correct", mean(correct)}, {"success", mean(success)}, {"followed", mean(followed)},
          {"hallucination", mean(hallucinated)}, {"toxic", mean(toxic)}, {"idk", mean(idk)}, {"words", mean(words)},
          {"polite", mean(polite)}, {"list_formatted", mean(listed)}, {"copies_prompt", mean(copies)},
          {"on_task", mean(on_task)}};
}

std::vector<JudgeFeatures> check_all(const Judge& judge, const std::vector<json>& records, const ModelResponses& model) {
  std::vector<JudgeFeatures> out;
  for (size_t i = 0; i < records.size(); ++i) out.push_back(judge.check(records[i], model.responses[i]));
  return out;
}

}  // namespace

json labeler_preference(const Judge& judge, const std::vector<json>& records, const std::vector<ModelResponses>& models,
                        const ModelResponses& baseline, PreferenceOutcomes* outcomes) {
  auto check_size = [&](const ModelResponses& m) {
    if (m.responses.size() != records.size())
      fail("labeler_preference: " + m.key, std::to_string(records.size()) + " responses", std::to_string(m.responses.size()));
  };
  check_size(baseline);
  json out = {{"baseline", baseline.key}, {"prompts", records.size()}, {"models", json::object()}};
  out["sets"] = judge.has_held_out_labelers() ? json{"training", "held_out"} : json{"training"};
  const std::vector<JudgeFeatures> baseline_features = check_all(judge, records, baseline);
  for (const auto& m : models) {
    check_size(m);
    const std::vector<JudgeFeatures> features = check_all(judge, records, m);
    std::vector<bool> neither_polite(records.size());
    std::vector<double> length_differences(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      neither_polite[i] = !features[i].polite && !baseline_features[i].polite;
      length_differences[i] = features[i].words - baseline_features[i].words;
    }
    auto where = [&](const char* set) { return outcomes ? &(*outcomes)[m.key][set] : nullptr; };
    json entry = {{"training", judged_by(judge, records, m, baseline, LabelerSet::kTraining, neither_polite,
                                         length_differences, where("training"))}};
    if (judge.has_held_out_labelers())
      entry["held_out"] = judged_by(judge, records, m, baseline, LabelerSet::kHeldOut, neither_polite,
                                    length_differences, where("held_out"));
    entry["features"] = features_of(features);
    out["models"][m.key] = entry;
  }
  return out;
}

double agreement_on_responses(const Judge& judge, const std::vector<json>& records,
                              const std::vector<ModelResponses>& models) {
  std::vector<json> kept;
  std::vector<std::vector<std::string>> responses;
  for (size_t i = 0; i < records.size(); ++i) {
    std::vector<std::string> distinct;
    for (const auto& m : models)
      if (i < m.responses.size() && std::find(distinct.begin(), distinct.end(), m.responses[i]) == distinct.end())
        distinct.push_back(m.responses[i]);
    if (distinct.size() < 2) continue;  // nothing to disagree about
    kept.push_back(records[i]);
    responses.push_back(std::move(distinct));
  }
  if (kept.empty()) return std::numeric_limits<double>::quiet_NaN();
  return judge.agreement(kept, responses);
}

}  // namespace rlhf::eval
