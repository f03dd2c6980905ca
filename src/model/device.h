// Where a model runs: "auto" (CUDA when there is one), "cpu", "cuda", "cuda:N". One choice for training and evaluation.
#pragma once
#include <torch/torch.h>

#include <string>

namespace rlhf {

torch::Device pick_device(const std::string& name);

}  // namespace rlhf
