// Small JSONL helpers for the pipeline's own files (whole files of JSON objects in, atomically written files out).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rlhf::pipeline {

std::vector<nlohmann::json> read_records(const std::string& path);
void write_records(const std::string& path, const std::vector<nlohmann::json>& records);
struct RunPaths;
std::string last_sft_epoch(const RunPaths& paths);  // the SFT run's last epoch-N directory

}  // namespace rlhf::pipeline
