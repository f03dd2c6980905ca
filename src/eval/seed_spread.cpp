#include "eval/seed_spread.h"

#include <algorithm>
#include <cmath>

#include "common/files.h"
#include "eval/task_success.h"
#include "infer/text.h"

namespace rlhf::eval {

using json = nlohmann::json;

json spread_of(const std::vector<double>& values) {
  if (values.empty()) return {{"mean", nullptr}, {"std", nullptr}, {"min", nullptr}, {"max", nullptr}, {"n", 0}};
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(values.size());
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  const double sd = values.size() > 1 ? std::sqrt(squares / static_cast<double>(values.size() - 1)) : 0.0;
  return {{"mean", mean}, {"std", sd}, {"min", *std::min_element(values.begin(), values.end())},
          {"max", *std::max_element(values.begin(), values.end())}, {"n", values.size()}};
}

std::map<std::string, std::vector<SeedResponses>> seed_responses(
    const RunLayout& run, const std::string& size, const std::vector<std::string>& prompts,
    const std::vector<ModelResponses>& first_seed, const SamplingOptions& sampling, const std::string& prompt_format,
    const std::string& device, int64_t most_seeds) {
  std::map<std::string, std::vector<SeedResponses>> out;
  for (const std::string key : {"ppo", "ppo_ptx"}) {
    const std::string id = size.empty() ? key : size + "/" + key;
    const auto first = std::find_if(first_seed.begin(), first_seed.end(), [&](const ModelResponses& m) { return m.key == id; });
    if (first == first_seed.end()) continue;
    std::vector<SeedResponses> seeds = {{1, run.model_dir(key, size), *first}};
    for (int64_t n = 2; (most_seeds == 0 || n <= most_seeds) && file_exists(run.seed_model_dir(key, n, size) + "/config.json");
         ++n) {
      const std::string dir = run.seed_model_dir(key, n, size), seed_id = id + "_seed" + std::to_string(n);
      TextModel m = load_text_model(seed_id, dir, prompt_format, device, run.tokenizer_dir());
      seeds.push_back({n, dir, {seed_id, generate_responses(m, prompts, sampling)}});
    }
    if (seeds.size() > 1) out[id] = std::move(seeds);
  }
  return out;
}

json seed_spread(const Judge& judge, const std::vector<json>& records, const ModelResponses& sft,
                 const std::map<std::string, std::vector<SeedResponses>>& by_model) {
  json out = json::object();
  for (const auto& [key, seeds] : by_model) {
    // Each seed under its own name, so that one labeler_preference call judges them all against the one baseline.
    std::vector<ModelResponses> named;
    for (const auto& s : seeds) named.push_back({key + "#seed" + std::to_string(s.seed_number), s.responses.responses});
    std::vector<ModelResponses> with_sft = named;
    with_sft.push_back({"#sft", sft.responses});
    const json success = task_success(judge, records, with_sft);
    const json preference = labeler_preference(judge, records, named, sft);
    const double sft_success = success["#sft"]["value"].get<double>();
    std::map<std::string, std::vector<double>> values;
    json rows = json::array();
    for (size_t i = 0; i < seeds.size(); ++i) {
      const json& verdicts = preference["models"][named[i].key];
      json row = {{"seed_number", seeds[i].seed_number}, {"dir", seeds[i].dir}};
      row["task_success"] = success[named[i].key]["value"];
      row["task_success_minus_sft"] = row["task_success"].get<double>() - sft_success;
      for (const std::string set : {"training", "held_out"})
        row["win_rate_" + set] = verdicts.contains(set) ? verdicts[set]["win_rate"]["value"] : json(nullptr);
      for (const std::string measure : {"task_success", "task_success_minus_sft", "win_rate_training", "win_rate_held_out"})
        if (row[measure].is_number()) values[measure].push_back(row[measure].get<double>());
      rows.push_back(row);
    }
    out[key] = {{"seeds", rows}};
    for (const std::string measure : {"task_success", "task_success_minus_sft", "win_rate_training", "win_rate_held_out"})
      out[key][measure] = spread_of(values[measure]);
  }
  return out;
}

}  // namespace rlhf::eval
