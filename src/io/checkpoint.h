// Training checkpoints: what a run needs to continue bit-for-bit after a crash or an interrupt (the trained modules'
// parameters, AdamW's moments and step counts, random generators, and the trainer's own counters in state.json).
// OUTPUT/checkpoints/step-N/{modules,optimizers}.safetensors + state.json, written in a temporary folder (.tmp-step-N)
// that is renamed into place, then OUTPUT/checkpoints/latest (for people and scripts) is replaced atomically; the
// newest `keep` are kept. Resuming takes the newest step-N folder: a crash at any moment leaves a complete one as the
// newest. (Model weights for people and other programs are io/model_dir.h's HF directories.)
#pragma once
#include <torch/torch.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rlhf {

// What a checkpoint holds, each part under its name (a prefix of the names inside the files).
struct Checkpointable {
  std::vector<std::pair<std::string, torch::nn::Module*>> modules;
  std::vector<std::pair<std::string, torch::optim::AdamW*>> optimizers;
  std::vector<std::pair<std::string, at::Generator*>> generators;
};
// Writes OUTPUT/checkpoints/step-`step`, then removes all but the newest `keep` checkpoints, never the one of step
// `protect` (the last one known good, train/loop.h's BadStepGuard; -1: none).
void save_checkpoint(const std::string& output_dir, int64_t step, const Checkpointable& what, const nlohmann::json& state,
                     int64_t keep, int64_t protect = -1);
// OUTPUT/checkpoints/step-N with the largest N below `before_step`, if any.
std::optional<std::string> newest_checkpoint(const std::string& output_dir,
                                             int64_t before_step = std::numeric_limits<int64_t>::max());
// Renames every OUTPUT/checkpoints/step-N with N >= `from_step` to step-N`suffix` (which neither a resume nor the
// rotation reads) and points `latest` at the newest one left; returns the new paths.
std::vector<std::string> set_aside_checkpoints(const std::string& output_dir, int64_t from_step,
                                               const std::string& suffix);
// Loads the newest checkpoint into `what` and returns its state.json; nullopt when there is none. state.json must hold
// `step`, `optimizer_steps` and each of `required` (numbers), else the error names the file and the missing key.
std::optional<nlohmann::json> load_latest_checkpoint(const std::string& output_dir, const Checkpointable& what,
                                                     const std::vector<std::string>& required = {});

}  // namespace rlhf
