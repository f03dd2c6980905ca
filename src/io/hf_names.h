// Every tensor name of a family in one table (llama.cpp's habit: architectures as data): the Hugging Face name, the
// name llama.cpp's GGUF gives it, and the parameter of ours it fills, each row with how the tensor is laid out on
// either side. Model directories (io/model_dir.h) read and write through the HF and our columns, the GGUF export
// (io/formats/gguf_model.h) through the HF and GGUF columns. No torch here.
#pragma once
#include <string>
#include <vector>

#include "model/config.h"

namespace rlhf {

// How an HF tensor (or several) becomes one of our parameters.
enum class NameOp {
  Copy,        // same layout
  Transpose,   // GPT-2's Conv1D stores [in, out]; we store Linear's [out, in]
  ConcatRows,  // consecutive rows of the table stacked along dim 0 (q|k|v, gate|up)
};

// How an HF tensor becomes llama.cpp's.
enum class GgufLayout {
  AsIs,
  Transpose,  // GPT-2's Conv1D stores [in, out]; ggml wants the Linear [out, in] (ggml dims {in, out})
  RopeRows,   // Llama q/k: HF ropes the halves (i, i + d/2) of each head, llama.cpp's "normal" rope the pairs (2i, 2i+1)
};

// When a model of the family has the tensor.
enum class Presence {
  Always,
  AttentionBias,  // config.attention_bias
  LmHead,         // a language model whose head is not tied to the embeddings
  ScoreHead,      // a reward or value model
};

struct TensorName {
  const char* hf;    // after "<backbone>" (global rows; head rows have no prefix) or "<backbone><layers>N." (layer rows)
  const char* gguf;  // after "blk.N." for layer rows; "" when llama.cpp stores no such tensor
  const char* ours;  // after "layers.N." for layer rows; "" when we hold no such parameter
  NameOp op;
  GgufLayout layout;
  // The HF shape in symbols of the config: V vocab, C hidden, P positions, I intermediate, Q q_dim, K kv_dim, T 3·hidden.
  const char* shape;
  Presence presence = Presence::Always;
  bool head = false;  // named without the backbone prefix (lm_head, score)
};

struct FamilyNames {
  std::string backbone;  // "transformer." (GPT-2) or "model." (Llama, Qwen2)
  std::string layers;    // "h." or "layers.", after the backbone
  std::vector<TensorName> before, layer, after;  // in the order the HF checkpoints write them
};
const FamilyNames& family_names(Family family);
bool is_present(const TensorName& row, const ModelConfig& config, bool with_lm_head, bool with_score_head);

// Our parameters of one model and the HF tensor(s) each is made of (several for ConcatRows), layer indices filled in.
struct NameRule {
  std::string ours;
  std::vector<std::string> hf;
  NameOp op = NameOp::Copy;
};
std::vector<NameRule> hf_name_rules(const ModelConfig& config, bool with_lm_head, bool with_score_head);

}  // namespace rlhf
