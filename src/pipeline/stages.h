// The pipeline's bookkeeping: each stage runs once; its record (RUN/stages/NAME.json) holds a key computed from the
// stage's settings and the keys of the stages it reads, so a finished stage is skipped on re-run unless something it
// depends on changed, and an interrupted demo continues where it stopped.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rlhf::pipeline {

// What a stage cost, for the compute table (FLOPs = 6·N·trained + 2·N·(generated + scored)).
struct StageCompute {
  int64_t parameters = 0;
  int64_t tokens_trained = 0, tokens_generated = 0, tokens_scored = 0;
  double seconds = 0;
  nlohmann::json to_json() const;
};

class StageRunner {
 public:
  explicit StageRunner(std::string run_dir);
  // Runs `body` unless a record with the same key exists. `settings` is the stage's configuration; `after` are the
  // stages whose outputs it reads. `body` returns a summary (printed and stored) and fills the compute record.
  // `outputs`: the folders the stage writes. A stage interrupted with the same key continues from what they hold
  // (training resumes from its checkpoint); when the key changed they are removed first, so that a checkpoint of
  // other settings is never resumed.
  // `inputs`: files the stage reads whose content is part of the key, so that a hand-edited dataset (data/sft.jsonl)
  // re-runs the stages that read it.
  void run(const std::string& name, const nlohmann::json& settings, const std::vector<std::string>& after,
           const std::function<nlohmann::json(StageCompute&)>& body, const std::vector<std::string>& outputs = {},
           const std::vector<std::string>& inputs = {});
  const nlohmann::json& summary(const std::string& name) const;  // of a finished stage (run or skipped)
  std::string key(const std::string& name) const;
  void write_compute(const std::string& path) const;

 private:
  std::string run_dir_;
  nlohmann::json records_ = nlohmann::json::object();
};

std::string content_hash(const std::string& text);  // hex, stable across runs and machines

}  // namespace rlhf::pipeline
