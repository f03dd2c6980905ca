#include "pipeline/stages.h"

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "common/error.h"
#include "common/json.h"
#include "common/files.h"
#include "model/cpu_allocator.h"

namespace rlhf::pipeline {

using json = nlohmann::json;

json StageCompute::to_json() const {
  const double flops = 6.0 * static_cast<double>(parameters) * static_cast<double>(tokens_trained) +
                       2.0 * static_cast<double>(parameters) * static_cast<double>(tokens_generated + tokens_scored);
  return {{"parameters", parameters}, {"tokens_trained", tokens_trained}, {"tokens_generated", tokens_generated},
          {"tokens_scored", tokens_scored}, {"seconds", seconds}, {"flops", flops}};
}

std::string content_hash(const std::string& text) {
  // FNV-1a, 64 bit, twice with different offsets: enough to tell settings apart, stable everywhere.
  uint64_t a = 1469598103934665603ull, b = 1099511628211ull * 7919ull;
  for (unsigned char c : text) {
    a = (a ^ c) * 1099511628211ull;
    b = (b ^ c) * 1099511628211ull + 0x9e3779b97f4a7c15ull;
  }
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << a << std::setw(16) << std::setfill('0') << b;
  return out.str();
}

StageRunner::StageRunner(std::string run_dir) : run_dir_(std::move(run_dir)) { make_dirs(run_dir_ + "/stages"); }

std::string StageRunner::key(const std::string& name) const {
  check(records_.contains(name), "pipeline: stage '" + name + "' has not run yet");
  return records_[name]["key"].get<std::string>();
}

const json& StageRunner::summary(const std::string& name) const {
  check(records_.contains(name), "pipeline: stage '" + name + "' has not run yet");
  return records_[name]["summary"];
}

void StageRunner::run(const std::string& name, const json& settings, const std::vector<std::string>& after,
                      const std::function<json(StageCompute&)>& body, const std::vector<std::string>& outputs,
                      const std::vector<std::string>& inputs) {
  json material = {{"stage", name}, {"settings", settings}};
  for (const auto& upstream : after) material["after"][upstream] = key(upstream);
  for (const auto& file : inputs) material["inputs"].push_back(file_exists(file) ? content_hash(read_file(file)) : "");
  const std::string stage_key = content_hash(material.dump());
  const std::string record_path = run_dir_ + "/stages/" + name + ".json";
  if (file_exists(record_path)) {
    try {
      json record = parse_json_or_discarded(read_file(record_path));
      if (record.value("key", "") == stage_key) {
        std::fprintf(stderr, "[%-14s] done earlier (%.1f s), skipped\n", name.c_str(),
                     record["compute"].value("seconds", 0.0));
        records_[name] = record;
        return;
      }
    } catch (const json::exception&) {
      // A damaged record means the stage runs again.
    }
  }
  // RUN/stages/NAME.started holds the key of the run in progress: outputs left by other settings are removed.
  const std::string started_path = run_dir_ + "/stages/" + name + ".started";
  if (!file_exists(started_path) || read_file(started_path) != stage_key + "\n")
    for (const auto& dir : outputs) remove_tree(dir);
  write_file_atomic(started_path, stage_key + "\n");
  std::fprintf(stderr, "[%-14s] running\n", name.c_str());
  const auto start = std::chrono::steady_clock::now();
  StageCompute compute;
  json summary = body(compute);
  release_cached_cpu_memory();  // the next stage's tensors have other sizes: start its cache (and peak) afresh
  compute.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  json record = {{"key", stage_key}, {"settings", settings}, {"summary", summary}, {"compute", compute.to_json()}};
  write_file_atomic(record_path, record.dump(2));
  std::remove(started_path.c_str());
  records_[name] = record;
  std::fprintf(stderr, "[%-14s] finished in %.1f s: %s\n", name.c_str(), compute.seconds, summary.dump().substr(0, 160).c_str());
}

void StageRunner::write_compute(const std::string& path) const {
  json out = json::object();
  for (auto it = records_.begin(); it != records_.end(); ++it) out[it.key()] = it.value()["compute"];
  write_file_atomic(path, out.dump(2));
}

}  // namespace rlhf::pipeline
