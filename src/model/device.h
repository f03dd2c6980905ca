// Where a model runs: "auto" (CUDA when there is one), "cpu", "cuda", "cuda:N". One choice for training and evaluation.
#pragma once
#include <torch/torch.h>

#include <string>

namespace rlhf {

torch::Device pick_device(const std::string& name);

// A random generator of its own for sampling on `device`, seeded: a CPU generator cannot draw for CUDA tensors
// (multinomial, randperm there need the device's kind). Its state saves and restores like the CPU's (get_state).
at::Generator seeded_generator(torch::Device device, uint64_t seed);

}  // namespace rlhf
