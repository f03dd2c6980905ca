#include "io/checkpoint_state.h"

#include <cmath>

#include "common/error.h"
#include "common/json.h"

namespace rlhf {

using json = nlohmann::json;

namespace {

// The counters the trainers keep in state.json (steps, epochs, positions in the data): whole numbers, never negative.
bool is_counter(const std::string& key) {
  return key == "step" || key == "epoch" || key == "micro_batch" || key == "window_steps" || key == "metrics_lines" ||
         key == "ptx_cursor";
}

// A whole number from `least` to 2^53 (an integer in JSON, or a float with an integral value in that range).
bool is_count(const json& value, int64_t least) {
  constexpr double kMost = 9007199254740992.0;  // 2^53: every whole number up to it is exact in a double
  if (!value.is_number()) return false;
  const double v = value.get<double>();
  return std::isfinite(v) && v == std::floor(v) && v >= static_cast<double>(least) && v <= kMost;
}

// "a, b, c" for an error message.
std::string key_list(const json& object) {
  std::string keys;
  for (const auto& item : object.items()) keys += (keys.empty() ? "" : ", ") + item.key();
  return keys.empty() ? "none" : keys;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text;
  for (int64_t d : shape) text += (text.empty() ? "" : ", ") + std::to_string(d);
  return "[" + text + "]";
}

}  // namespace

void check_checkpoint_state(const json& state, const std::string& path, const std::vector<std::string>& required,
                            const std::set<std::string>& optimizer_keys) {
  // Checked before anything is read, so that a hand-edited or truncated state.json names its missing key instead of
  // nlohmann's "type must be number, but is null" (and a missing optimizer_steps does not silently drop AdamW's moments).
  if (!state.is_object()) fail(path, "a JSON object", state.type_name());
  std::vector<std::string> keys = {"step"};
  keys.insert(keys.end(), required.begin(), required.end());
  for (const auto& key : keys)
    if (!state.contains(key)) fail(path, "the key \"" + key + "\"", "none (the keys are " + key_list(state) + ")");
  for (const auto& [key, value] : state.items()) {  // everything the trainers save there, optional keys too, is a number
    if (key == "optimizer_steps") continue;
    if (!value.is_number()) fail(path, "a number under \"" + key + "\"", json_excerpt(value));
    // A hand-edited step of 10.5 resumed at 10, and one of 1e30 or -5 made the schedule's learning rate non-finite.
    if (is_counter(key) && !is_count(value, 0))
      fail(path, "a whole number from 0 to 2^53 under \"" + key + "\"", json_excerpt(value));
    if (!std::isfinite(value.get<double>())) fail(path, "a finite number under \"" + key + "\"", json_excerpt(value));
  }
  if (!state.contains("optimizer_steps") || !state["optimizer_steps"].is_object())
    fail(path, "an object under \"optimizer_steps\"",
         state.contains("optimizer_steps") ? json_excerpt(state["optimizer_steps"]) : "no such key");
  for (const auto& [key, value] : state["optimizer_steps"].items()) {
    if (!value.is_number_integer()) fail(path, "integer optimizer_steps", key + ": " + json_excerpt(value));
    // AdamW's bias correction divides by 1 - beta^steps: 0 steps is a division by zero, fewer a sign flip.
    if (!is_count(value, 1)) fail(path, "optimizer_steps from 1 to 2^53", key + ": " + json_excerpt(value));
    if (!optimizer_keys.count(key))
      fail(path, "optimizer_steps only for the run's " + std::to_string(optimizer_keys.size()) + " optimized parameters",
           "\"" + key + "\"");
  }
}

void check_checkpoint_tensor(const TensorInfo& info, const std::string& where, DType dtype,
                             const std::vector<int64_t>* shape) {
  if (info.dtype != dtype) fail(where, "dtype " + dtype_name(dtype) + " (as checkpoints are written)", dtype_name(info.dtype));
  if (shape && info.shape != *shape) fail(where, "shape " + shape_text(*shape) + " (the model's)", shape_text(info.shape));
  if (!shape && info.shape.size() != 1) fail(where, "a generator state of one dimension", shape_text(info.shape));
  // SafetensorsFile checked this for the header's own dtype; here it is the dtype the reader will use.
  const uint64_t bytes = info.end - info.begin;
  if (bytes != static_cast<uint64_t>(info.numel()) * dtype_size(dtype))
    fail(where, std::to_string(info.numel() * dtype_size(dtype)) + " bytes", std::to_string(bytes) + " bytes");
}

}  // namespace rlhf
