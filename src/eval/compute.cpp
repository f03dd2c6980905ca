#include "eval/compute.h"

#include <algorithm>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "eval/stats.h"

namespace rlhf::eval {

using json = nlohmann::json;

double ComputeRecord::flops() const {
  return training_flops(parameters, tokens_trained) + inference_flops(parameters, tokens_generated + tokens_scored);
}

void to_json(json& out, const ComputeRecord& r) {
  out = {{"stage", r.stage}, {"parameters", r.parameters}, {"tokens_trained", r.tokens_trained},
         {"tokens_generated", r.tokens_generated}, {"tokens_scored", r.tokens_scored}, {"wall_seconds", r.wall_seconds}};
}

void from_json(const json& in, ComputeRecord& r) {
  if (!in.is_object() || !in.contains("stage") || !in["stage"].is_string())
    fail("compute record", "an object with a \"stage\" name", json_excerpt(in, 80));
  r.stage = in["stage"].get<std::string>();
  auto number = [&](const char* field) {
    if (!in.contains(field)) return 0.0;
    if (!in[field].is_number() || in[field].get<double>() < 0)
      fail("compute record \"" + r.stage + "\"", std::string("a non-negative number for \"") + field + "\"", json_excerpt(in[field]));
    return in[field].get<double>();
  };
  r.parameters = number("parameters");
  r.tokens_trained = number("tokens_trained");
  r.tokens_generated = number("tokens_generated");
  r.tokens_scored = number("tokens_scored");
  r.wall_seconds = in.contains("wall_seconds") ? number("wall_seconds") : number("seconds");
}

std::vector<ComputeRecord> read_compute_records(const std::string& path) {
  if (!file_exists(path)) return {};
  json j = read_json(path);
  if (!j.is_object()) fail(path, "{\"stages\": [...]} or {\"STAGE\": {...}, ...}", j.type_name());
  // Two spellings: a list of records, or an object of records keyed by stage name (StageRunner::write_compute).
  json list = j.contains("stages") && j["stages"].is_array() ? j["stages"] : json::array();
  if (!j.contains("stages"))
    for (const auto& [stage, record] : j.items()) {
      json r = record;
      if (r.is_object() && !r.contains("stage")) r["stage"] = stage;
      list.push_back(r);
    }
  std::vector<ComputeRecord> records;
  for (const auto& s : list) {
    try {
      records.push_back(s.get<ComputeRecord>());
    } catch (const Error& e) {
      fail(path + ": " + e.what());
    }
  }
  // An object's keys come back sorted by name: put the stages in the pipeline's order (others after, as they came).
  static const std::vector<std::string> order = {"world", "tokenizer", "pretrain", "curate", "demonstrations", "sft",
                                                 "flan_sft", "rankings", "reward_model", "rm", "rm_cross_validation",
                                                 "rm_cv", "sft_select", "ppo", "ppo_ptx", "quick_eval", "eval"};
  auto rank = [&](const ComputeRecord& r) {
    return static_cast<size_t>(std::find(order.begin(), order.end(), r.stage) - order.begin());
  };
  std::stable_sort(records.begin(), records.end(),
                   [&](const ComputeRecord& a, const ComputeRecord& b) { return rank(a) < rank(b); });
  return records;
}

void write_compute_records(const std::string& path, const std::vector<ComputeRecord>& records) {
  write_file_atomic(path, json{{"stages", records}}.dump(1) + "\n");
}

json summarise_compute(const std::vector<ComputeRecord>& records) {
  json out = {{"stages", json::array()}};
  ComputeRecord total;
  total.stage = "total";
  double total_flops = 0;
  for (const auto& r : records) {
    json row = r;
    row["flops"] = r.flops();
    row["petaflop_s_days"] = petaflop_s_days(r.flops());
    out["stages"].push_back(row);
    total_flops += r.flops();
    total.tokens_trained += r.tokens_trained;
    total.tokens_generated += r.tokens_generated;
    total.tokens_scored += r.tokens_scored;
    total.wall_seconds += r.wall_seconds;
  }
  json t = total;
  t.erase("parameters");
  t["flops"] = total_flops;
  t["petaflop_s_days"] = petaflop_s_days(total_flops);
  out["total"] = t;
  return out;
}

}  // namespace rlhf::eval
