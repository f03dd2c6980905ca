// The transformer's configuration, mapped 1:1 onto a Hugging Face config.json (GPT-2, Llama, Qwen2, SmolLM = Llama).
// No torch here: the GGUF writer, tokenizers and tests read it without LibTorch.
#pragma once
#include <cstdint>
#include <string>

namespace rlhf {

enum class Family { GPT2, Llama, Qwen2 };

struct RopeScaling {
  std::string type;  // "" (none), "linear", "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3
};

struct ModelConfig {
  Family family = Family::Llama;  // selects the names: config.json keys, tensor names (io/hf_names.h), GGUF keys
  std::string architecture;  // as in config.json "architectures"[0], e.g. "LlamaForCausalLM"
  // What the family computes, as data (set_family sets them: GPT-2 has all four, Llama and Qwen2 none).
  bool learned_positions = false;  // a table of max_position_embeddings position embeddings; else rotary (RoPE)
  bool layer_norm = false;         // LayerNorm with a bias; else RMSNorm (computed in fp32)
  bool gelu_mlp = false;           // down(GELU_tanh(up x)); else SwiGLU: down(silu(gate x) * up x)
  bool linear_bias = false;        // the o, up and down projections have biases (GPT-2's Conv1D layers)
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 0;
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v projections have a bias (GPT-2 and Qwen2)
  int64_t head_dim = 0;         // hidden_size / num_heads unless config says otherwise
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;
  int64_t pad_token_id = -1;
  std::string torch_dtype = "float32";

  int64_t kv_dim() const { return num_kv_heads * head_dim; }
  int64_t q_dim() const { return num_heads * head_dim; }
  // Parameters of the transformer with an LM head (counted as HF counts them: a tied head is not counted twice).
  int64_t parameter_count() const;
};

// Read a config.json (path to the file). Errors name the file and the key.
ModelConfig load_model_config(const std::string& path);
// The config.json text for an export; `head` is "causal_lm" or "sequence_classification" (num_labels 1, a reward model).
std::string model_config_to_json(const ModelConfig& config, const std::string& head = "causal_lm");
// Small configs for the demo and tests: family "gpt2" | "llama" | "qwen2".
ModelConfig tiny_config(const std::string& family, int64_t vocab_size, int64_t hidden_size, int64_t num_layers,
                        int64_t num_heads, int64_t num_kv_heads, int64_t max_positions);

std::string family_name(Family family);
// Sets `family` and what it computes (the fields after `architecture`).
void set_family(ModelConfig& config, Family family);

}  // namespace rlhf
