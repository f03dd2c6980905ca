// Linear layers: fp32 on the CPU through oneDNN's matrix products instead of ATen's (MKL's).
//
// Why: LibTorch sends fp32 products on the CPU to MKL, which on AMD CPUs runs its AVX2 code: on this project's AMD EPYC
// CI machine (AVX-512: yes, bf16 native: yes) 213 GFLOP/s at 1024³ against 505 GFLOP/s for the same product through
// oneDNN, which LibTorch also ships (and already uses for bf16); on an AMD EPYC Zen 3 (AVX-512: no) 140 against 161.
// 1.6-3.7x on the shapes of the demo and GPT-2-small models on the first, forward and both backward products, to
// within fp32 rounding (bench/RESULTS.md, "Page faults, attention over few positions, fp32
// through oneDNN, packed weights", item 3).
#pragma once
#include <torch/torch.h>

#include <unordered_map>
#include <vector>

namespace rlhf {

// y = x Wᵀ + b (bias optional). fp32 CPU tensors outside autocast go through oneDNN (with a backward of two more
// oneDNN products); anything else is torch::linear. A bf16 weight (and bias) meeting an fp32 input outside autocast,
// on the CPU, is widened to fp32 for the product (bf16 weights where the CPU computes bf16 in fp32: below).
torch::Tensor linear_layer(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});

// While in scope on this thread (generation), linear_layer reads the given weights from copies packed once into
// oneDNN's own layout for products of about `rows` rows, instead of repacking them in every product: at a decode
// step's 32 rows 1.3-2.4x per product (fp32 and bf16; bench/RESULTS.md, the same section, item 4). Only
// without autograd; weights other than CPU fp32 / bf16 ones are left out. The weights must not change in scope.
// bf16 weights are packed as bf16 where oneDNN has bf16 kernels; elsewhere (cpu_bf16_products() false) they are packed
// widened to fp32 when the products run in fp32 (outside autocast), and left unpacked under bf16 autocast.
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

// How bf16 runs on this CPU. Where oneDNN has bf16 kernels (AVX-512 F/BW/VL/DQ, or AVX-NE-CONVERT; LibTorch agreeing)
// bf16 products run in bf16, through oneDNN. Elsewhere (AVX2-only CPUs: AMD Zen 1-3, most laptops) LibTorch's bf16
// products fall back to ATen's own loops, 2.5-6x slower than fp32 ones at the demo model's shapes, a demo PPO iteration
// 10-100x slower than with fp32 products (bench/RESULTS.md, "CPUs without AVX-512"), so --dtype bfloat16 there keeps
// bf16 weights in bf16 (memory) and runs every product in fp32:
// no bf16 autocast on the CPU (train/loop.h AutocastGuard), and a model with bf16 weights computes its activations in
// fp32 (model/transformer.cpp). The first call prints one line on stderr saying which path and why.
bool cpu_bf16_products();

// Whether this LibTorch has oneDNN's linear (x86 and ARM wheels do), and the switch (on by default; off = ATen's
// kernels), for comparisons: `rlhf --cpu_fp32_matmul aten|onednn`.
bool onednn_linear_available();
void use_onednn_for_fp32_linear(bool on);
bool onednn_for_fp32_linear();

}  // namespace rlhf
