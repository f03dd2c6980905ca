// A transformer as llama.cpp loads it from GGUF: the architecture keys, the tokenizer metadata and the tensors renamed and
// laid out as llama.cpp's own converter (convert_hf_to_gguf.py, with the `gguf` package's tables) writes them, for the
// families of src/model/config.h: GPT-2 ("gpt2"), Llama ("llama") and Qwen2 ("qwen2"). No torch and no tokenizer
// implementation here: the tokenizer arrives as plain data (GgufTokenizerData), the weights as HF-named tensors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/formats/gguf.h"
#include "io/formats/safetensors.h"
#include "model/config.h"

namespace rlhf {

// llama.cpp's token types (tokenizer.ggml.token_type).
enum class GgufTokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct GgufTokenizerData {
  std::string model;  // tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece)
  std::string pre;    // tokenizer.ggml.pre, llama.cpp's pre-tokenizer name: "gpt-2", "llama-bpe", "qwen2", "default"
  std::vector<std::string> tokens;  // by id
  std::vector<int32_t> token_types;  // GgufTokenType per token (empty: all Normal)
  std::vector<std::string> merges;   // BPE: "left right", in rank order
  std::vector<float> scores;         // SentencePiece: one per token
  int64_t bos_id = -1, eos_id = -1, pad_id = -1, unk_id = -1;
  int add_bos = -1, add_eos = -1;  // tokenizer.ggml.add_bos_token / add_eos_token: -1 leaves the key out
  std::string chat_template;       // tokenizer.chat_template, when the model has one
};

// The GGUF tensor name for an HF tensor name of `family` ("blk.3.attn_q.weight"); "" for tensors llama.cpp does not
// store (rotary inv_freq, GPT-2's causal-mask buffers). An unknown name is an rlhf::Error.
std::string gguf_tensor_name(Family family, const std::string& hf_name);

// general.*, <arch>.* and tokenizer.* keys for the model. `out_type` (F32, F16 or Q8_0) sets general.file_type.
GgufMetadata gguf_model_metadata(const ModelConfig& config, const GgufTokenizerData& tokenizer, GgmlType out_type,
                                 const std::string& name);

// Maps the HF names, transposes GPT-2's Conv1D weights to the Linear [out, in] layout, permutes Llama's q/k rows for
// llama.cpp's rope (as its converter does; Qwen2 is not permuted, llama.cpp ropes it NeoX-style), adds rope_freqs for
// llama3 rope scaling, stores norms, biases and position embeddings as F32 and the matrices as `out_type` (Q8_0 falls
// back to F16 for rows that are not a multiple of 32, as the converter does), and writes `path` atomically.
// `hf_tensors` are F32, F16 or BF16 (converted to F32 first).
void write_gguf_model(const std::string& path, const ModelConfig& config, const GgufTokenizerData& tokenizer,
                      const std::vector<TensorBytes>& hf_tensors, GgmlType out_type, const std::string& name = "");

// The tokenizer of an HF model directory as GGUF data: tokenizer.json (byte-level BPE), vocab.json + merges.txt (GPT-2),
// or tokenizer.model (SentencePiece); special ids from tokenizer_config.json, else from `config`. `pre` overrides the
// pre-tokenizer name that is otherwise recognised from tokenizer.json's pre_tokenizer.
GgufTokenizerData gguf_tokenizer_from_hf_dir(const std::string& model_dir, const ModelConfig& config,
                                             const std::string& pre = "");

// The whole export: config.json, model.safetensors (or its sharded index) and the tokenizer files of `model_dir`.
void export_gguf(const std::string& model_dir, const std::string& out_path, GgmlType out_type,
                 const std::string& pre = "", const std::string& name = "");

}  // namespace rlhf
