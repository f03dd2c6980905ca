// One new token per row against the KV cache on the CPU: softmax(q kᵀ / √D) v, read straight from the cache.
#pragma once
#include <torch/torch.h>

namespace rlhf {

// q [B, H, 1, D]; k, v [B, KV, S, D], read in place when both are fp32 or both bf16 with each row of D contiguous (a
// slice of the cache), else converted to fp32 first;
// allowed [B, 1, 1, S] bool (true = attend) or undefined (every position). H a multiple of KV: query head h reads kv
// head h / (H / KV). Accumulates in fp32; returns [B, H, 1, D] in q's dtype. A row with no allowed position gives
// zeros (the model's masks always allow a token to see itself).
torch::Tensor decode_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& allowed);

}  // namespace rlhf
