// One decoder-only transformer for the GPT-2 and Llama families (Llama, Qwen2, SmolLM), configured by ModelConfig.
// Parameters are stored fused where that makes fewer, larger matmuls (q|k|v in one matrix, gate|up in one); the HF
// name table in io/hf_names.cpp splits and joins them on load and save.
#pragma once
#include <torch/torch.h>

#include "model/config.h"
#include "model/lora.h"

namespace rlhf {

// Keys and values of every layer, allocated once for the longest sequence a generation can reach.
struct KVCache {
  std::vector<torch::Tensor> keys, values;  // per layer [B, KV, max_length, D]
  int64_t length = 0;                       // positions filled so far
  KVCache(const ModelConfig& config, int64_t batch, int64_t max_length, torch::TensorOptions options);
};

class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const ModelConfig& config);
  // x [B, T, C]; cos/sin [B, T, D] (undefined for GPT-2); mask [B, 1, T, S] bool or undefined (causal, no padding).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, KVCache* cache, int64_t layer);

  torch::Tensor attn_norm_weight, attn_norm_bias, qkv_weight, qkv_bias, o_weight, o_bias;
  torch::Tensor mlp_norm_weight, mlp_norm_bias, up_weight, up_bias, down_weight, down_bias;
  LoraBlock lora{nullptr};  // adapters (model/lora.h), or none

 private:
  // x Wᵀ + b, plus the adapters of `site` when there are any.
  torch::Tensor project(LoraSite site, const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) const;
  torch::Tensor norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) const;
  torch::Tensor attention(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                          const torch::Tensor& mask, KVCache* cache, int64_t layer);
  torch::Tensor mlp(const torch::Tensor& x) const;
  ModelConfig config_;
};
TORCH_MODULE(Block);

class TransformerImpl : public torch::nn::Module {
 public:
  // with_lm_head: false for reward and value models (the unembedding is removed); with_score_head adds the scalar
  // head `score` [1, C] that HF's *ForSequenceClassification stores as score.weight.
  TransformerImpl(const ModelConfig& config, bool with_lm_head = true, bool with_score_head = false);

  // input_ids, position_ids [B, T]; attention_mask [B, S] over all keys (cache + new; 1 = real token) or undefined
  // when nothing is padded; documents [B, T] (no cache) or undefined: a token attends only to tokens of its own
  // document number (examples packed apart). Returns the final-normed hidden states [B, T, C].
  torch::Tensor hidden_states(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                              const torch::Tensor& attention_mask, KVCache* cache = nullptr,
                              const torch::Tensor& documents = torch::Tensor());
  torch::Tensor logits(const torch::Tensor& hidden) const;  // [.., C] -> [.., V]
  torch::Tensor scores(const torch::Tensor& hidden) const;  // [.., C] -> [..] (scalar head)
  // The unembedding matrix [V, C] (the token embedding when tied).
  torch::Tensor unembedding() const { return config_.tie_word_embeddings ? embed_tokens : lm_head; }

  void add_score_head();     // a fresh scalar head (reward model from SFT), initialised small
  bool has_lm_head() const { return has_lm_head_; }
  bool has_score_head() const { return score.defined(); }
  const ModelConfig& config() const { return config_; }

  torch::Tensor embed_tokens, embed_positions, final_norm_weight, final_norm_bias, lm_head, score;
  torch::nn::ModuleList layers;
  // Memory features. base_score: the scalar head as it was before LoRA training, used while adapters are disabled (a
  // value model sharing its frozen base with the reward model). gradient_checkpointing: in training with gradients,
  // each block keeps only its input and recomputes its activations in the backward pass (model/recompute.h).
  torch::Tensor base_score;
  bool use_base_score = false;
  // Set while generating under bf16 autocast: the tied unembedding's bf16 copy, used by logits() (model/generate.cpp).
  torch::Tensor inference_unembedding;
  bool gradient_checkpointing = false;

 private:
  std::pair<torch::Tensor, torch::Tensor> rope(const torch::Tensor& position_ids) const;
  ModelConfig config_;
  torch::Tensor inv_freq_;  // [D/2], RoPE frequencies after any scaling
  bool has_lm_head_ = true;
};
TORCH_MODULE(Transformer);

// The same weights with other heads: SFT model -> reward model (no LM head, a fresh scalar head), RM -> value model.
// Parameters both have are copied; a scalar head the source lacks is initialised fresh.
Transformer copy_with_heads(TransformerImpl& source, bool with_lm_head, bool with_score_head);

// Positions for a left-padded batch: 0 at each row's first real token (HF: cumsum(mask) - 1, pads at 0).
torch::Tensor positions_from_mask(const torch::Tensor& attention_mask);
// Random initialisation as HF does it (normal(0, 0.02), zero biases, unit norms); deterministic under torch::manual_seed.
void init_weights(TransformerImpl& model, double std = 0.02);

}  // namespace rlhf
