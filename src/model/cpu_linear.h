// Linear layers: fp32 on the CPU through oneDNN's matrix products instead of ATen's (MKL's).
//
// Why: LibTorch sends fp32 products on the CPU to MKL, which on AMD CPUs runs its AVX2 code: on this project's AMD EPYC
// CI machine (AVX-512) 213 GFLOP/s at 1024³ against 505 GFLOP/s for the same product through oneDNN, which LibTorch
// also ships (and already uses for bf16); 1.6-3.7x on the shapes of the demo and GPT-2-small models, forward and both
// backward products, to within fp32 rounding (bench/RESULTS.md, "Page faults, attention over few positions, fp32
// through oneDNN, packed weights", item 3).
#pragma once
#include <torch/torch.h>

#include <unordered_map>
#include <vector>

namespace rlhf {

// y = x Wᵀ + b (bias optional). fp32 CPU tensors outside autocast go through oneDNN (with a backward of two more
// oneDNN products); anything else is torch::linear.
torch::Tensor linear_layer(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});

// While in scope on this thread (generation), linear_layer reads the given weights from copies packed once into
// oneDNN's own layout for products of about `rows` rows, instead of repacking them in every product: at a decode
// step's 32 rows 1.3-2.4x per product (fp32 and bf16; bench/RESULTS.md, the same section, item 4). Only
// without autograd; weights other than CPU fp32 / bf16 ones are left out. The weights must not change in scope.
class PackedLinearWeights {
 public:
  PackedLinearWeights(const std::vector<torch::Tensor>& weights, int64_t rows);
  ~PackedLinearWeights();
  PackedLinearWeights(const PackedLinearWeights&) = delete;
  PackedLinearWeights& operator=(const PackedLinearWeights&) = delete;
  size_t size() const { return packed_.size(); }

 private:
  std::unordered_map<const void*, torch::Tensor> packed_;  // weight's data -> its packed copy
  PackedLinearWeights* outer_;
  friend const torch::Tensor* packed_weight(const torch::Tensor& weight);
};

// Whether this LibTorch has oneDNN's linear (x86 and ARM wheels do), and the switch (on by default; off = ATen's
// kernels), for comparisons: `rlhf --cpu_fp32_matmul aten|onednn`.
bool onednn_linear_available();
void use_onednn_for_fp32_linear(bool on);
bool onednn_for_fp32_linear();

}  // namespace rlhf
