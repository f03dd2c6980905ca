#include "pipeline/records.h"

#include <filesystem>

#include "common/error.h"
#include "common/files.h"
#include "data/jsonl.h"
#include "pipeline/stage_bodies.h"

namespace rlhf::pipeline {

std::vector<nlohmann::json> read_records(const std::string& path) {
  std::vector<nlohmann::json> out;
  for_each_jsonl(path, {}, [&](const JsonlLine& line) { out.push_back(line.value); });
  return out;
}

void write_records(const std::string& path, const std::vector<nlohmann::json>& records) {
  make_dirs(std::filesystem::path(path).parent_path().string());
  std::string text;
  for (const auto& r : records) text += r.dump() + "\n";
  write_file_atomic(path, text);
}

std::string last_sft_epoch(const RunPaths& p) {
  int best = 0;
  for (const auto& entry : std::filesystem::directory_iterator(p.model("sft_run"))) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind("epoch-", 0) == 0) best = std::max(best, std::stoi(name.substr(6)));
  }
  check(best > 0, p.model("sft_run") + ": no epoch-N model directories (has the sft stage run?)");
  return p.model("sft_run") + "/epoch-" + std::to_string(best);
}

}  // namespace rlhf::pipeline
