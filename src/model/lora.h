// LoRA adapters (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") on a frozen Transformer:
//   y = x Wᵀ + b + (alpha / r) · dropout(x) Aᵀ Bᵀ,   A [r, in] (random), B [out, r] (zero: step 0 is the base model)
// Targets use the Hugging Face module names PEFT users know (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj,
// down_proj for Llama/Qwen2; c_attn, c_proj, c_fc for GPT-2; "all-linear"). Our blocks store q|k|v and gate|up fused,
// so each HF module is one A/B pair whose output is added to its rows of the fused output only: targeting q_proj alone
// adapts the q rows, as PEFT on the HF model would, and the adapter saves under PEFT's names and shapes.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace rlhf {

class TransformerImpl;
struct ModelConfig;

struct LoraConfig {
  int64_t r = 16;                    // TRL's ModelConfig defaults (lora_r 16, lora_alpha 32, lora_dropout 0.05)
  double alpha = 32;
  double dropout = 0.05;
  std::vector<std::string> target_modules;  // HF names; empty: PEFT's default for the family (q_proj,v_proj | c_attn)
  bool train_score_head = false;     // a reward / value model: the scalar head is trained too (PEFT's modules_to_save)
  std::string base_model;            // recorded in adapter_config.json
};

// The fused parameter an adapter adds to.
enum class LoraSite { Qkv, Output, Up, Down };

// One HF module's adapter inside a block: rows [offset, offset + rows) of the site's output.
struct LoraAdapter {
  std::string hf_module;             // relative to the layer, e.g. "self_attn.q_proj", "mlp.c_proj"
  LoraSite site;
  int64_t offset = 0, rows = 0;
  torch::Tensor A, B;                // [r, in], [rows, r]
};

class LoraBlockImpl : public torch::nn::Module {
 public:
  LoraBlockImpl(const ModelConfig& config, const std::vector<std::string>& targets, int64_t r, double alpha,
                double dropout);
  // `base` is x Wᵀ + b for the site, [.., out]; returns it with this block's adapters of that site added (their rows).
  torch::Tensor add(LoraSite site, const torch::Tensor& x, const torch::Tensor& base) const;
  bool targets(LoraSite site) const;

  std::vector<LoraAdapter> adapters;
  double scaling = 1.0;              // alpha / r
  double dropout = 0.0;
  bool enabled = true;               // false: the frozen base alone (PPO's reference, the reward model beside a value model)
  std::string base_model;            // where the base came from (adapter_config.json's base_model_name_or_path)
};
TORCH_MODULE(LoraBlock);

// dropout(x) Aᵀ for a LoRA adapter in training: x · keep / (1 - p), keep a bool mask drawn with probability 1 - p
// (dropout_keep_mask, from the global generator, so gradient checkpointing replays it). Its backward keeps x (which
// the base projection keeps already) and the bool mask: 1 byte per element per adapter, where F::dropout followed by
// linear kept the float noise and the dropped copy (8 bytes in fp32).
torch::Tensor dropout_keep_mask(const torch::Tensor& x, double p);
torch::Tensor dropout_linear(const torch::Tensor& x, const torch::Tensor& A, const torch::Tensor& keep, double p);

// The HF target names the options resolve to for this family (expands "all-linear", applies the default, and refuses
// names the family has not: an rlhf::Error naming the valid ones).
std::vector<std::string> resolve_lora_targets(const ModelConfig& config, const std::vector<std::string>& requested);

// Freezes every parameter of `model` (requires_grad false) and adds adapters to every block; with train_score_head the
// scalar head stays trainable and its initial value is kept as the head used when adapters are disabled. A is drawn
// from the global generator (seeded by the caller), B is zero.
void add_lora(TransformerImpl& model, const LoraConfig& config);
bool has_lora(const TransformerImpl& model);
// Adapters on or off for every block (and the base scalar head when off).
void set_lora_enabled(TransformerImpl& model, bool enabled);

// While in scope the model runs as its frozen base: PPO's reference policy is the policy with adapters disabled, so the
// weights are held once. A no-op on a model without adapters.
class LoraDisabled {
 public:
  explicit LoraDisabled(TransformerImpl& model);
  ~LoraDisabled();
  LoraDisabled(const LoraDisabled&) = delete;
  LoraDisabled& operator=(const LoraDisabled&) = delete;

 private:
  TransformerImpl& model_;
  bool had_lora_;
};

// The parameters an optimizer should update: those with requires_grad (all of them without adapters).
std::vector<torch::Tensor> trainable_parameters(torch::nn::Module& model);

// Our parameter `name` ("layers.3.qkv_weight", ...) with the adapters merged into its rows: W + (alpha/r)·B A, in
// fp32 (then back to the parameter's dtype is the caller's choice). The parameter itself when no adapter touches it.
torch::Tensor lora_merged(TransformerImpl& model, const std::string& name, const torch::Tensor& parameter);

// The resolved settings of a model's adapters (for adapter_config.json); r = 0 when it has none.
struct LoraSummary {
  int64_t r = 0;
  double alpha = 0, dropout = 0;
  std::vector<std::string> target_modules;
  bool train_score_head = false;
  std::string base_model;
};
LoraSummary lora_summary(const TransformerImpl& model);

}  // namespace rlhf
