#include "eval/overoptimisation.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/files.h"
#include "eval/stats.h"
#include "eval/task_success.h"

namespace rlhf::eval {

using json = nlohmann::json;

std::vector<PolicyCheckpoint> policy_checkpoints(const std::string& model_dir) {
  namespace fs = std::filesystem;
  std::vector<PolicyCheckpoint> out;
  const fs::path root = fs::path(model_dir) / "checkpoints";
  if (!fs::is_directory(root)) return out;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    // step-N only: step-N.non-finite holds weights the non-finite guard set aside.
    if (!entry.is_directory() || name.rfind("step-", 0) != 0 || !file_exists((entry.path() / "config.json").string()))
      continue;
    const std::string digits = name.substr(5);
    if (digits.empty() || digits.size() > 12 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    out.push_back({std::stoll(digits), entry.path().string()});
  }
  std::sort(out.begin(), out.end(), [](const PolicyCheckpoint& a, const PolicyCheckpoint& b) { return a.step < b.step; });
  return out;
}

double mean_metric_between(const std::string& metrics_jsonl, const std::string& metric, int64_t after, int64_t up_to) {
  std::ifstream in(metrics_jsonl);
  double sum = 0;
  int64_t n = 0;
  std::string line;
  while (std::getline(in, line)) {
    const json row = json::parse(line, nullptr, false);
    if (!row.is_object() || !row.contains("step") || !row["step"].is_number() || !row.contains(metric) ||
        !row[metric].is_number())
      continue;
    const int64_t step = row["step"].get<int64_t>();
    if (step > after && step <= up_to) sum += row[metric].get<double>(), ++n;
  }
  return n > 0 ? sum / static_cast<double>(n) : NAN;
}

json overoptimisation_curve(const Judge& judge, const std::vector<json>& records, const std::vector<CurvePoint>& points) {
  if (points.empty() || points[0].step != 0)
    fail("overoptimisation_curve", "the SFT model as the first point (step 0)", "none");
  const ModelResponses& sft = points[0].responses;
  std::vector<ModelResponses> policies;
  for (size_t i = 1; i < points.size(); ++i) policies.push_back(points[i].responses);
  const json preference = policies.empty() ? json::object() : labeler_preference(judge, records, policies, sft);
  std::vector<ModelResponses> all;
  for (const auto& p : points) all.push_back(p.responses);
  const json success = task_success(judge, records, all);

  json out = {{"prompts", records.size()}, {"points", json::array()}};
  double best = -1;
  for (const auto& p : points) {
    double rm = 0;
    for (double s : p.rm_scores) rm += s / static_cast<double>(std::max<size_t>(1, p.rm_scores.size()));
    json point = {{"step", p.step}, {"kl", number_or_null(p.kl)}, {"rm_score", rm},
                  {"task_success", success[p.responses.key]["value"]}};
    if (p.step == 0) {
      point["win_rate_held_out"] = point["win_rate_training"] = {{"value", 0.5}, {"baseline", true}};
    } else {
      const json& m = preference["models"][p.responses.key];
      point["win_rate_training"] = m["training"]["win_rate"];
      point["win_rate_held_out"] = m.contains("held_out") ? m["held_out"]["win_rate"] : json(nullptr);
      const json& value = point["win_rate_held_out"].is_object() ? point["win_rate_held_out"]["value"] : point["win_rate_held_out"];
      const double held_out = value.is_number() ? value.get<double>() : NAN;
      if (std::isfinite(held_out) && held_out > best) {
        best = held_out;
        out["peak"] = {{"step", p.step}, {"kl", point["kl"]}, {"win_rate_held_out", held_out}};
      }
    }
    out["points"].push_back(point);
  }
  return out;
}

}  // namespace rlhf::eval
