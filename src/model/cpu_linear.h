// Linear layers: fp32 on the CPU through oneDNN's matrix products instead of ATen's (MKL's).
//
// Why: LibTorch sends fp32 products on the CPU to MKL, which on AMD CPUs runs its AVX2 code: on this project's AMD EPYC
// CI machine (AVX-512) 213 GFLOP/s at 1024³ against 505 GFLOP/s for the same product through oneDNN, which LibTorch
// also ships (and already uses for bf16); 1.6-2.4x on the shapes of the demo and GPT-2-small models, forward and both
// backward products, to within fp32 rounding (bench/RESULTS.md, "fp32 products through oneDNN").
#pragma once
#include <torch/torch.h>

namespace rlhf {

// y = x Wᵀ + b (bias optional). fp32 CPU tensors outside autocast go through oneDNN (with a backward of two more
// oneDNN products); anything else is torch::linear.
torch::Tensor linear_layer(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});

// Whether this LibTorch has oneDNN's linear (x86 and ARM wheels do), and the switch (on by default; off = ATen's
// kernels), for comparisons: `rlhf --cpu_fp32_matmul aten|onednn`.
bool onednn_linear_available();
void use_onednn_for_fp32_linear(bool on);
bool onednn_for_fp32_linear();

}  // namespace rlhf
