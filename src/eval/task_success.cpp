#include "eval/task_success.h"

#include <algorithm>
#include <limits>
#include <map>

#include "common/error.h"
#include "eval/stats.h"

namespace rlhf::eval {

using json = nlohmann::json;

namespace {

std::vector<double> successes(const Judge& judge, const std::vector<json>& records, const ModelResponses& model) {
  if (model.responses.size() != records.size())
    fail("task_success: " + model.key, std::to_string(records.size()) + " responses", std::to_string(model.responses.size()));
  std::vector<double> out;
  for (size_t i = 0; i < records.size(); ++i) out.push_back(judge.check(records[i], model.responses[i]).success ? 1 : 0);
  return out;
}

// Harmful requests are to be declined, not done (judge.h): task success and every measure here built on the checker's
// success verdict leave them out (eval/harmful.h reports them). `at` holds each kept record's place among `records`.
struct Instructions {
  std::vector<json> records;
  std::vector<ModelResponses> models;
  std::vector<size_t> at;
};

Instructions instructions_only(const Judge& judge, const std::vector<json>& records,
                               const std::vector<ModelResponses>& models, const char* where) {
  Instructions out;
  for (const auto& m : models) {
    if (m.responses.size() != records.size())
      fail(std::string(where) + ": " + m.key, std::to_string(records.size()) + " responses", std::to_string(m.responses.size()));
    out.models.push_back({m.key, {}});
  }
  for (size_t i = 0; i < records.size(); ++i) {
    if (judge.check(records[i], "").harmful) continue;
    out.records.push_back(records[i]);
    out.at.push_back(i);
    for (size_t m = 0; m < models.size(); ++m) out.models[m].responses.push_back(models[m].responses[i]);
  }
  return out;
}

json share_json(const std::vector<double>& flags) {
  double sum = 0;
  for (double f : flags) sum += f;
  Proportion p = wilson_interval(sum, static_cast<double>(flags.size()));
  return {{"value", number_or_null(p.value)}, {"ci", {p.low, p.high}}, {"n", flags.size()}};
}

}  // namespace

json task_success(const Judge& judge, const std::vector<json>& all_records, const std::vector<ModelResponses>& all_models) {
  const Instructions kept = instructions_only(judge, all_records, all_models, "task_success");
  const std::vector<json>& records = kept.records;
  json out = json::object();
  for (const auto& m : kept.models) {
    const std::vector<double> done = successes(judge, records, m);
    std::map<std::string, std::vector<double>> by_category;
    for (size_t i = 0; i < records.size(); ++i) by_category[records[i].value("task", std::string("other"))].push_back(done[i]);
    json entry = share_json(done);
    entry["by_category"] = json::object();
    for (const auto& [category, flags] : by_category) entry["by_category"][category] = share_json(flags);
    out[m.key] = entry;
  }
  return out;
}

json task_success_differences(const Judge& judge, const std::vector<json>& all_records,
                              const std::vector<ModelResponses>& all_models,
                              const std::vector<std::pair<std::string, std::string>>& pairs) {
  const Instructions kept = instructions_only(judge, all_records, all_models, "task_success_differences");
  const std::vector<json>& records = kept.records;
  const std::vector<ModelResponses>& models = kept.models;
  auto find = [&](const std::string& key) {
    auto it = std::find_if(models.begin(), models.end(), [&](const ModelResponses& m) { return m.key == key; });
    return it == models.end() ? nullptr : &*it;
  };
  json out = json::object();
  for (const auto& [a, b] : pairs) {
    const ModelResponses *first = find(a), *second = find(b);
    if (!first || !second) continue;
    const std::vector<double> x = successes(judge, records, *first), y = successes(judge, records, *second);
    std::vector<double> difference(x.size());
    for (size_t i = 0; i < x.size(); ++i) difference[i] = x[i] - y[i];
    const Interval ci = bootstrap_mean_interval(difference, 2000, 20261206);
    out[a + " - " + b] = {{"value", number_or_null(mean_stderr(difference).mean)}, {"ci", {ci.low, ci.high}},
                          {"n", difference.size()}};
  }
  return out;
}

json held_out_task_success(const Judge& judge, const std::vector<json>& all_records,
                           const std::vector<ModelResponses>& all_models, const std::vector<std::string>& categories,
                           const std::vector<std::pair<std::string, std::string>>& pairs) {
  const Instructions kept = instructions_only(judge, all_records, all_models, "held_out_task_success");
  const std::vector<json>& records = kept.records;
  const std::vector<ModelResponses>& models = kept.models;
  // The records (and every model's responses to them) of the held-out categories, and of the others.
  struct Subset {
    std::vector<json> records;
    std::vector<ModelResponses> models;
    std::vector<std::string> ids;
  } held_out, trained_on;
  for (const auto& m : models) {
    if (m.responses.size() != records.size())
      fail("held_out_task_success: " + m.key, std::to_string(records.size()) + " responses", std::to_string(m.responses.size()));
    held_out.models.push_back({m.key, {}}), trained_on.models.push_back({m.key, {}});
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string category = records[i].value("task", std::string("other"));
    Subset& subset = std::find(categories.begin(), categories.end(), category) != categories.end() ? held_out : trained_on;
    subset.records.push_back(records[i]);
    std::string id = records[i].value("id", std::string());
    subset.ids.push_back(id.empty() ? "#" + std::to_string(kept.at[i]) : id);
    for (size_t m = 0; m < models.size(); ++m) subset.models[m].responses.push_back(models[m].responses[i]);
  }
  json out = {{"categories", categories}, {"held_out", json::object()}, {"trained_on", json::object()},
              {"differences", json::object()}, {"items", json::object()}};
  if (!trained_on.records.empty()) out["trained_on"] = task_success(judge, trained_on.records, trained_on.models);
  if (held_out.records.empty()) return out;
  out["held_out"] = task_success(judge, held_out.records, held_out.models);
  out["differences"] = task_success_differences(judge, held_out.records, held_out.models, pairs);
  for (const auto& m : held_out.models)
    out["items"][m.key] = {{"ids", held_out.ids}, {"success", successes(judge, held_out.records, m)}};
  return out;
}

json reward_success_auc(const Judge& judge, const std::vector<json>& all_records,
                        const std::vector<ModelResponses>& all_models, const std::vector<std::vector<double>>& all_scores) {
  if (all_scores.size() != all_models.size())
    fail("reward_success_auc", std::to_string(all_models.size()) + " lists of scores", std::to_string(all_scores.size()));
  const Instructions kept = instructions_only(judge, all_records, all_models, "reward_success_auc");
  const std::vector<json>& records = kept.records;
  const std::vector<ModelResponses>& models = kept.models;
  std::vector<std::vector<double>> scores(all_scores.size());
  for (size_t m = 0; m < all_scores.size(); ++m) {
    if (all_scores[m].size() != all_records.size())
      fail("reward_success_auc: " + all_models[m].key, std::to_string(all_records.size()) + " scores",
           std::to_string(all_scores[m].size()));
    for (size_t i : kept.at) scores[m].push_back(all_scores[m][i]);
  }
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> by_category;  // successes, failures
  std::pair<std::vector<double>, std::vector<double>> pooled;
  for (size_t m = 0; m < models.size(); ++m) {
    const std::vector<double> done = successes(judge, records, models[m]);
    if (scores[m].size() != records.size())
      fail("reward_success_auc: " + models[m].key, std::to_string(records.size()) + " scores", std::to_string(scores[m].size()));
    for (size_t i = 0; i < records.size(); ++i) {
      auto& split = by_category[records[i].value("task", std::string("other"))];
      (done[i] > 0 ? split.first : split.second).push_back(scores[m][i]);
      (done[i] > 0 ? pooled.first : pooled.second).push_back(scores[m][i]);
    }
  }
  json out = {{"all", number_or_null(auc(pooled.first, pooled.second))}, {"by_category", json::object()}};
  double weighted = 0, pairs = 0;
  for (const auto& [category, split] : by_category) {
    const double a = auc(split.first, split.second), n = static_cast<double>(split.first.size() * split.second.size());
    out["by_category"][category] = {{"auc", number_or_null(a)}, {"successes", split.first.size()}, {"failures", split.second.size()}};
    if (n > 0) weighted += a * n, pairs += n;
  }
  out["within_category"] = number_or_null(pairs > 0 ? weighted / pairs : std::numeric_limits<double>::quiet_NaN());
  return out;
}

NameSwapPairs name_swap_pairs(const Judge& judge, const std::vector<json>& records, const ModelResponses& model) {
  if (model.responses.size() != records.size())
    fail("name_swap_pairs: " + model.key, std::to_string(records.size()) + " responses", std::to_string(model.responses.size()));
  NameSwapPairs pairs{{}, {model.key, {}}, {model.key + " (name swapped)", {}}};
  for (size_t i = 0; i < records.size(); ++i) {
    if (judge.check(records[i], "").harmful) continue;  // a request to decline, not a task (no success to swap)
    std::string twin = judge.name_swapped(records[i], model.responses[i]);
    if (twin.empty()) continue;
    pairs.records.push_back(records[i]);
    pairs.original.responses.push_back(model.responses[i]);
    pairs.swapped.responses.push_back(std::move(twin));
  }
  return pairs;
}

json name_swap_accuracy(const NameSwapPairs& pairs, const std::vector<double>& original_scores,
                        const std::vector<double>& swapped_scores) {
  const size_t n = pairs.records.size();
  if (original_scores.size() != n || swapped_scores.size() != n)
    fail("name_swap_accuracy", std::to_string(n) + " scores of each kind",
         std::to_string(original_scores.size()) + " and " + std::to_string(swapped_scores.size()));
  std::map<std::string, std::vector<double>> by_category;
  std::vector<double> right;
  for (size_t i = 0; i < n; ++i) {
    const double r = original_scores[i] > swapped_scores[i] ? 1.0 : original_scores[i] == swapped_scores[i] ? 0.5 : 0.0;
    right.push_back(r);
    by_category[pairs.records[i].value("task", std::string("other"))].push_back(r);
  }
  json out = share_json(right);
  out["by_category"] = json::object();
  for (const auto& [category, flags] : by_category) out["by_category"][category] = share_json(flags);
  return out;
}

}  // namespace rlhf::eval
