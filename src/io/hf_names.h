// Hugging Face tensor names <-> our parameter names, as one table per family (llama.cpp's habit: architectures as data).
#pragma once
#include <string>
#include <vector>

#include "model/config.h"

namespace rlhf {

// How an HF tensor (or several) becomes one of our parameters.
enum class NameOp {
  Copy,        // same layout
  Transpose,   // GPT-2's Conv1D stores [in, out]; we store Linear's [out, in]
  ConcatRows,  // several HF tensors stacked along dim 0 (q|k|v, gate|up)
};

struct NameRule {
  std::string ours;                 // our parameter name; "{i}" = layer index
  std::vector<std::string> hf;      // HF name(s); "{i}" = layer index
  NameOp op = NameOp::Copy;
  bool optional = false;            // e.g. lm_head when tied, q/k/v bias when absent
};

// Every rule for one model, with "{i}" expanded. `backbone_prefix` is "transformer." (GPT-2) or "model." (Llama, Qwen2).
std::vector<NameRule> hf_name_rules(const ModelConfig& config, bool with_lm_head, bool with_score_head);
std::string backbone_prefix(const ModelConfig& config);

}  // namespace rlhf
