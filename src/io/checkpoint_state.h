// What a resume checks in a training checkpoint (io/checkpoint.h) before it reads a value into a model or an optimizer:
// state.json's keys and counters, and each tensor's header against what the run writes. No torch here, so that
// tests/fuzz/fuzz_checkpoint.cpp feeds these checks any bytes under the sanitizers.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "io/formats/safetensors.h"

namespace rlhf {

// state.json (at `path`) must be an object holding "step", each of `required` and an "optimizer_steps" object; every
// other value a finite number; the counters (step, epoch, micro_batch, window_steps, metrics_lines, ptx_cursor) whole
// numbers from 0 to 2^53; each optimizer step a whole number from 1 (AdamW's bias correction divides by 1 - beta^steps)
// under one of `optimizer_keys` ("optimizer/0", ...). Else an error naming the file and the key.
void check_checkpoint_state(const nlohmann::json& state, const std::string& path, const std::vector<std::string>& required,
                            const std::set<std::string>& optimizer_keys);

// A checkpoint tensor's header (`where` names file and tensor in messages) as the run writes it: `dtype`, exactly
// `shape` (a parameter or an AdamW moment; copy_ broadcast a [1] into a [128]) or, with no shape, one dimension (a
// generator state), and shape x dtype size = its bytes.
void check_checkpoint_tensor(const TensorInfo& info, const std::string& where, DType dtype,
                             const std::vector<int64_t>* shape);

}  // namespace rlhf
