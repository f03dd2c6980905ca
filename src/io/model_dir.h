// Model directories in Hugging Face's layout: config.json + model.safetensors (or shards with
// model.safetensors.index.json). Every stage reads and writes this layout, so `transformers` can load any of them.
// (Training checkpoints, which resume a run with its optimizer state, are io/checkpoint.h.)
#pragma once
#include <torch/torch.h>

#include <string>

#include "model/transformer.h"

namespace rlhf {

struct LoadOptions {
  torch::Dtype dtype = torch::kFloat32;  // the run's dtype; F32/F16/BF16 in the file are converted to it
  torch::Device device = torch::kCPU;
};

// Reads config.json and the weights. A *ForSequenceClassification checkpoint loads with the scalar head and no LM head.
Transformer load_model(const std::string& dir, const LoadOptions& options = {});

struct SaveOptions {
  std::string dtype = "float32";          // float32 | bfloat16 | float16: the dtype written (and config's torch_dtype)
  int64_t max_shard_bytes = 2000000000;   // above this, shards + model.safetensors.index.json
};

// Writes config.json (CausalLM, or ForSequenceClassification when the model has a scalar head and no LM head) and the
// safetensors files with HF names, each file atomically. LoRA adapters (model/lora.h) are merged into the weights, and
// also written alone in PEFT's layout under DIR/adapter (io/peft_adapter.h).
void save_model(TransformerImpl& model, const std::string& dir, const SaveOptions& options = {});

// The normalisation offset stored beside a reward model (reward_normalization.json; 0 when there is none): our reward
// is the score head's output minus it.
double load_reward_offset(const std::string& model_dir);
void save_reward_offset(const std::string& model_dir, double offset);

// Copies the tokenizer files (tokenizer.json, tokenizer_config.json, vocab.json, merges.txt, tokenizer.model,
// special_tokens_map.json, generation_config.json) that exist in `from` into `to`.
void copy_tokenizer_files(const std::string& from, const std::string& to);

// The dtype name used in config.json / SaveOptions -> torch dtype (error on anything else).
torch::Dtype parse_torch_dtype(const std::string& name);

}  // namespace rlhf
