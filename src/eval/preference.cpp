#include "eval/preference.h"

#include <algorithm>
#include <limits>

#include "common/error.h"
#include "eval/stats.h"

namespace rlhf::eval {

using json = nlohmann::json;

namespace {

json proportion_json(const Proportion& p) {
  return {{"value", number_or_null(p.value)}, {"low", p.low}, {"high", p.high}, {"n", p.n}};
}

json rate_json(const std::vector<double>& flags) {
  double sum = 0;
  for (double f : flags) sum += f;
  return proportion_json(wilson_interval(sum, static_cast<double>(flags.size())));
}

json judged_by(const Judge& judge, const std::vector<json>& records, const ModelResponses& model,
               const ModelResponses& baseline, LabelerSet set) {
  std::vector<double> outcomes, likert, fails, hallucination, inappropriate, toxic;
  for (size_t i = 0; i < records.size(); ++i) {
    outcomes.push_back(judge.compare(records[i], model.responses[i], baseline.responses[i], set));
    JudgeRating r = judge.rate(records[i], model.responses[i], set);
    likert.push_back(r.likert);
    fails.push_back(r.fails_to_follow);
    hallucination.push_back(r.hallucination);
    inappropriate.push_back(r.inappropriate);
    toxic.push_back(r.toxic);
  }
  WinRate w = win_rate(outcomes);
  json win = proportion_json(w.rate);
  win["wins"] = w.wins, win["ties"] = w.ties, win["losses"] = w.losses;
  MeanStderr l = mean_stderr(likert);
  return {{"win_rate", win},
          {"likert", {{"mean", number_or_null(l.mean)}, {"stderr", l.standard_error}, {"n", l.n}}},
          {"fails_to_follow", rate_json(fails)},
          {"hallucination", rate_json(hallucination)},
          {"inappropriate", rate_json(inappropriate)},
          {"toxic", rate_json(toxic)}};
}

json features_of(const Judge& judge, const std::vector<json>& records, const ModelResponses& model) {
  std::vector<double> correct, followed, hallucinated, toxic, idk, words;
  for (size_t i = 0; i < records.size(); ++i) {
    JudgeFeatures f = judge.check(records[i], model.responses[i]);
    correct.push_back(f.correct);
    followed.push_back(f.followed);
    hallucinated.push_back(f.hallucinations > 0);
    toxic.push_back(f.toxicity >= 0.5);
    idk.push_back(f.idk);
    words.push_back(f.words);
  }
  auto mean = [](const std::vector<double>& v) { return number_or_null(mean_stderr(v).mean); };
  return {{"correct", mean(correct)}, {"followed", mean(followed)}, {"hallucination", mean(hallucinated)},
          {"toxic", mean(toxic)}, {"idk", mean(idk)}, {"words", mean(words)}};
}

}  // namespace

json labeler_preference(const Judge& judge, const std::vector<json>& records, const std::vector<ModelResponses>& models,
                        const ModelResponses& baseline) {
  auto check_size = [&](const ModelResponses& m) {
    if (m.responses.size() != records.size())
      fail("labeler_preference: " + m.key, std::to_string(records.size()) + " responses", std::to_string(m.responses.size()));
  };
  check_size(baseline);
  json out = {{"baseline", baseline.key}, {"prompts", records.size()}, {"models", json::object()}};
  out["sets"] = judge.has_held_out_labelers() ? json{"training", "held_out"} : json{"training"};
  for (const auto& m : models) {
    check_size(m);
    json entry = {{"training", judged_by(judge, records, m, baseline, LabelerSet::kTraining)}};
    if (judge.has_held_out_labelers()) entry["held_out"] = judged_by(judge, records, m, baseline, LabelerSet::kHeldOut);
    entry["features"] = features_of(judge, records, m);
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
