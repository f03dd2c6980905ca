#include "bench/presets.h"

#include "common/error.h"

namespace rlhf::bench {

namespace {
struct Shape {
  const char* name;
  int64_t vocab, hidden, layers, heads, positions;
  int64_t kv_heads = 0, intermediate = 0;  // llama/qwen2 blocks; 0: as many as heads / tiny_config's 8/3 rule
  double rope_theta = 10000.0;
};
// A table, not an if-chain: adding a shape is one line.
const Shape kShapes[] = {
    {"tiny", 256, 64, 2, 4, 128},
    {"demo", 8192, 256, 4, 4, 256},
    {"25m", 8192, 512, 6, 8, 512},
    {"gpt2-small", 50257, 768, 12, 12, 1024},
    // Qwen2-0.5B's config.json (grouped-query attention, 2 key/value heads); positions cut from 32768 (RoPE has no
    // table, so this is only the longest sequence the benchmark may ask for).
    {"qwen2-0.5b", 151936, 896, 24, 14, 4096, 2, 4864, 1000000.0},
};
}  // namespace

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& s : kShapes) names.push_back(s.name);
  return names;
}

ModelConfig preset_config(const std::string& preset, const std::string& family) {
  for (const auto& s : kShapes) {
    if (preset != s.name) continue;
    ModelConfig c = tiny_config(family, s.vocab, s.hidden, s.layers, s.heads, s.kv_heads ? s.kv_heads : s.heads,
                                s.positions);
    if (c.family != Family::GPT2 && s.intermediate) c.intermediate_size = s.intermediate;
    if (!c.learned_positions) c.rope_theta = s.rope_theta;
    c.bos_token_id = c.eos_token_id = 0;
    return c;
  }
  std::string names;
  for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
  fail("bench --preset", names, "'" + preset + "'");
}

double block_matmul_flops_per_token(const ModelConfig& c) {
  const double C = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size);
  const double attention = C * (c.q_dim() + 2.0 * c.kv_dim()) + c.q_dim() * C;
  const double mlp = (c.gelu_mlp ? 2.0 : 3.0) * C * I;
  return 2.0 * static_cast<double>(c.num_layers) * (attention + mlp);
}

double generation_flops(const ModelConfig& c, int64_t batch, int64_t prompt, int64_t new_tokens) {
  const double per_token = block_matmul_flops_per_token(c);
  const double head = 2.0 * static_cast<double>(c.vocab_size) * static_cast<double>(c.hidden_size);
  // Scores and weighted values: 2 matmuls of q_dim × context per layer, 2 FLOPs per multiply-add.
  const double attention_per_key = 4.0 * static_cast<double>(c.num_layers) * static_cast<double>(c.q_dim());
  double total = 0;
  // Prefill: every prompt position, each attending to the positions up to itself; the head on the last one only.
  const double P = static_cast<double>(prompt);
  total += P * per_token + attention_per_key * P * (P + 1) / 2 + head;
  // Each further step feeds one token that attends to the whole context so far.
  for (int64_t t = 1; t < new_tokens; ++t)
    total += per_token + attention_per_key * static_cast<double>(prompt + t + 1) + head;
  return total * static_cast<double>(batch);
}

}  // namespace rlhf::bench
