// Attention over few positions on the CPU, as two matrix products: softmax(q kᵀ / √D + mask) v with the scores
// materialised, forward and backward through autograd.
#pragma once
#include <torch/torch.h>

namespace rlhf {

// The longest key length at which training forwards on the CPU take this path instead of SDPA's flash kernel. Up
// to here the [B, H, T, S] scores are small and the flash kernel's per-block work dominates: a demo layer (batch 4,
// 4 heads, 64 positions, bf16) forward and backward 1.18 ms in flash, 0.45 ms here; at 256 positions flash wins
// (bench/RESULTS.md, "Page faults, attention over few positions, ...", item 2).
constexpr int64_t kShortAttentionMaxKeys = 128;

// q [B, H, T, D], k and v [B, H, S, D] (grouped-query heads already repeated); allowed [B, 1, T, S] bool (true =
// attend) or undefined; causal: query t sees keys 0..t (T == S; only without `allowed`). Scores in fp32 (scaled
// before the softmax, as SDPA), the products in the inputs' dtype (bf16 under autocast). Every query must be allowed
// at least one key (the model's masks let each token see itself). Returns [B, H, T, D].
torch::Tensor short_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& allowed, bool causal);

}  // namespace rlhf
