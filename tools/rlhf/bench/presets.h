// Model shapes the benchmarks run on (random weights): the same names for `rlhf bench` and the Python peers.
#pragma once
#include <string>
#include <vector>

#include "model/config.h"

namespace rlhf::bench {

// tiny (smoke tests), demo (~5M: hidden 256, 4 layers, 4 heads, vocab 8192, 256 positions), 25m (~23M: hidden 512,
// 6 layers, 8 heads, vocab 8192, 512 positions), gpt2-small (GPT-2's 124M shape: vocab 50257, 768, 12 layers, 12 heads,
// 1024 positions), qwen2-0.5b (Qwen2-0.5B's 494M shape: vocab 151936, 896, 24 layers, 14 heads with 2 key/value heads,
// MLP 4864; for the GPU). `family` gpt2 | llama | qwen2 keeps the shape and changes the block (tied embeddings
// throughout; a gpt2 block has no grouped-query attention and a 4x MLP).
ModelConfig preset_config(const std::string& preset, const std::string& family = "gpt2");
std::vector<std::string> preset_names();

// Matmul FLOPs of one forward position, without attention scores and the LM head: 2 × (weights in the blocks' matmuls).
double block_matmul_flops_per_token(const ModelConfig& config);
// Useful FLOPs of generating `new_tokens` after a `prompt`-token prefill for `batch` rows with a KV cache: the blocks'
// matmuls, attention over the context so far, and the LM head at the positions that are sampled from.
double generation_flops(const ModelConfig& config, int64_t batch, int64_t prompt, int64_t new_tokens);

}  // namespace rlhf::bench
