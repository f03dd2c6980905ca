// One new token per row against the KV cache on the CPU: softmax(q kᵀ / √D) v, read straight from the cache.
#pragma once
#include <torch/torch.h>

namespace rlhf {

// q [B, H, 1, D]; k, v [B, KV, S, D], read in place when both are fp32 or both bf16 with each row of D contiguous (a
// slice of the cache), else converted to fp32 first;
// allowed [B, 1, 1, S] bool (true = attend) or undefined (every position). H a multiple of KV: query head h reads kv
// head h / (H / KV). Accumulates in fp32; returns [B, H, 1, D] in q's dtype. A row with no allowed position gives
// zeros (the model's masks always allow a token to see itself).
// `path` is for tests: best = the widest kernels this machine allows for the head size (AVX-512, then AVX2 with FMA, for
// head sizes 32, 64, 80, 96 and 128; cpu_features(), a cap included), else portable loops compiled for several vector
// widths, the widest allowed.
enum class DecodeKernel { best, avx512, avx2, portable };
torch::Tensor decode_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& allowed, DecodeKernel path = DecodeKernel::best);
// Whether `path` runs here for that head size (best and portable always do).
bool decode_kernel_available(DecodeKernel path, int64_t head_size);

}  // namespace rlhf
