#include "train/memory.h"

#include <sstream>

#include "common/error.h"
#include "io/model_dir.h"

namespace rlhf {

void bind_memory_options(Options& o, MemoryOptions& m) {
  o.add("use_peft", &m.use_peft, "train LoRA adapters on a frozen base (merged into the saved model)");
  o.add("lora_r", &m.lora_r, "LoRA rank");
  o.add("lora_alpha", &m.lora_alpha, "LoRA alpha (the update is scaled by alpha / r)");
  o.add("lora_dropout", &m.lora_dropout, "dropout on the adapters' input");
  o.add("lora_target_modules", &m.lora_target_modules,
        "HF module names, comma-separated (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj | c_attn,c_proj,c_fc), "
        "or all-linear; default: q_proj,v_proj (Llama, Qwen2) / c_attn (GPT-2)");
  o.add("gradient_checkpointing", &m.gradient_checkpointing, "recompute each block's activations in the backward pass");
  o.add("frozen_dtype", &m.frozen_dtype, "auto (= dtype) | float32 | bfloat16: how frozen weights are held");
}

void validate_memory_options(const MemoryOptions& m, const std::string& dtype, const std::string& stage) {
  if (m.lora_r < 1) fail(stage + ": --lora_r", "1 or more", std::to_string(m.lora_r));
  if (!(m.lora_dropout >= 0 && m.lora_dropout < 1))
    fail(stage + ": --lora_dropout", "a probability in [0, 1)", std::to_string(m.lora_dropout));
  if (m.frozen_dtype != "auto" && m.frozen_dtype != "float32" && m.frozen_dtype != "bfloat16")
    fail(stage + ": --frozen_dtype", "auto, float32 or bfloat16", "'" + m.frozen_dtype + "'");
  // bf16 weights are only run under bf16 autocast, which casts the fp32 activations and adapters to meet them.
  if (frozen_weight_dtype(m, dtype) == torch::kBFloat16 && dtype != "bfloat16" && dtype != "bf16")
    fail(stage + ": --frozen_dtype bfloat16", "--dtype bfloat16 too (bf16 weights run under bf16 autocast)",
         "--dtype " + dtype);
}

torch::Dtype frozen_weight_dtype(const MemoryOptions& m, const std::string& dtype) {
  return parse_torch_dtype(m.frozen_dtype == "auto" ? (dtype == "bf16" ? "bfloat16" : dtype) : m.frozen_dtype);
}

namespace {

std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string name;
  while (std::getline(in, name, ',')) {
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    if (!name.empty()) out.push_back(name);
  }
  return out;
}

// Frozen parameters (requires_grad false) move to `dtype`; trained ones and buffers (RoPE frequencies) stay.
void hold_frozen_in(TransformerImpl& model, torch::Dtype dtype) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters())
    if (!p.requires_grad() && p.scalar_type() != dtype) p.set_data(p.data().to(dtype));
}

}  // namespace

void prepare_trained_model(TransformerImpl& model, const MemoryOptions& m, const std::string& dtype, bool score_head,
                           const std::string& base_model) {
  model.gradient_checkpointing = m.gradient_checkpointing;
  if (!m.use_peft) return;
  LoraConfig lora;
  lora.r = m.lora_r, lora.alpha = m.lora_alpha, lora.dropout = m.lora_dropout;
  lora.target_modules = split_names(m.lora_target_modules);
  lora.train_score_head = score_head;
  lora.base_model = base_model;
  add_lora(model, lora);
  hold_frozen_in(model, frozen_weight_dtype(m, dtype));
}

void prepare_frozen_model(TransformerImpl& model, const MemoryOptions& m, const std::string& dtype) {
  model.eval();
  for (auto& p : model.parameters()) p.set_requires_grad(false);
  hold_frozen_in(model, frozen_weight_dtype(m, dtype));
}

}  // namespace rlhf
