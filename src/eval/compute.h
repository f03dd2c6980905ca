// Compute per stage, as the paper reports it (InstructGPT §5.3 / Appendix: petaflop/s-days): the pipeline writes one
// record per stage into RUN/compute.json and the evaluation turns them into FLOPs, petaflop/s-days and wall time.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::eval {

struct ComputeRecord {
  std::string stage;             // "pretrain", "sft", "rm", "ppo", "ppo_ptx", "eval", ...
  double parameters = 0;         // N of the model doing the work (split a stage into records when models differ)
  double tokens_trained = 0;     // tokens through forward + backward (6·N each)
  double tokens_generated = 0;   // tokens sampled (2·N each: one forward with the KV cache)
  double tokens_scored = 0;      // tokens through a forward pass only (reference, reward, value, evaluation)
  double wall_seconds = 0;
  double flops() const;          // 6·N·trained + 2·N·(generated + scored)
};

void to_json(nlohmann::json& out, const ComputeRecord& record);
void from_json(const nlohmann::json& in, ComputeRecord& record);

// RUN/compute.json: {"stages": [record, ...]}, or {STAGE: record, ...} (the stage name from the key, "seconds" for
// "wall_seconds"). A missing file reads as no records.
std::vector<ComputeRecord> read_compute_records(const std::string& path);
void write_compute_records(const std::string& path, const std::vector<ComputeRecord>& records);

// {"stages": [{stage, parameters, tokens..., flops, petaflop_s_days, wall_seconds}], "total": {...}}
nlohmann::json summarise_compute(const std::vector<ComputeRecord>& records);

}  // namespace rlhf::eval
