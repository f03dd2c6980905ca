// `rlhf export`: a model directory as something other tools load. Two targets:
//  - hf:   a Hugging Face directory that transformers loads as it is (AutoModelForCausalLM, or, for a reward / value model,
//          AutoModelForSequenceClassification that scores exactly as we do), with tokenizer files, generation_config.json,
//          a chosen dtype and sharding;
//  - gguf: one GGUF file for llama.cpp (io/formats/gguf_model.h does the work; `rlhf export-gguf` is the same path).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace rlhf {

struct HfExportOptions {
  std::string dtype;                     // float32 | bfloat16 | float16; "" = the source's torch_dtype (else float32)
  int64_t max_shard_bytes = 2000000000;  // above this, shards + model.safetensors.index.json (transformers' default)
  // generation_config.json fields; each is written only when given (and overrides a copied file's value).
  std::optional<bool> do_sample;
  std::optional<double> temperature, top_p;
  std::optional<int64_t> max_new_tokens;
};

// What an HF export did, for the CLI to report.
struct HfExportResult {
  std::string architecture;  // as written to config.json, e.g. "GPT2ForSequenceClassification"
  std::string dtype;
  int64_t shards = 1;
  int64_t pad_token_id = -1;  // config.json's pad_token_id after the export (-1: none)
  std::string pad_note;       // what the reward-model pad fix did ("" when nothing was needed)
  std::optional<double> reward_offset;  // copied from reward_normalization.json
};

// Loads `model_dir` (load_model) and writes `out_dir`: weights (save_model: names, dtype, shards), config.json, the
// tokenizer files, generation_config.json and, for a reward model, reward_normalization.json plus the offset in
// config.json as "rlhf_reward_offset" (HF's logit minus it is our reward). A model with a scalar head and pad id == eos
// id (or none) gets a distinct pad token: see the comment in export.cpp. Every file is written atomically; weight
// files of an earlier export to the same `out_dir` that this one does not use are removed.
HfExportResult export_hf(const std::string& model_dir, const std::string& out_dir, const HfExportOptions& options = {});

// `rlhf export --format gguf` and `rlhf export-gguf`: checks `dtype` (f32 | f16 | q8_0) and the paths, then
// io/formats/gguf_model.h's export_gguf. Returns the tensor type's name as written.
std::string export_gguf_file(const std::string& model_dir, const std::string& out_path, const std::string& dtype,
                             const std::string& pre = "", const std::string& name = "");

// A size as transformers' max_shard_size takes it: "2GB", "500MB", "10KB" (powers of 1000), "2GiB", "500MiB" (powers of
// 1024), "5Gb" (bits), or a plain byte count "1000000". Anything else, or a size <= 0, is an rlhf::Error.
int64_t parse_byte_size(const std::string& text);

}  // namespace rlhf
