// A model's LoRA adapters alone, in PEFT's layout (adapter_model.safetensors + adapter_config.json), so that
// `PeftModel.from_pretrained(base, dir)` loads them over the unmerged base. Written beside every merged save as
// DIR/adapter (not in DIR itself: transformers would take a directory holding adapter_config.json for an adapter).
#pragma once
#include <string>

#include "model/transformer.h"

namespace rlhf {

// Keys: base_model.model.<HF module path>.lora_A.weight [r, in] / lora_B.weight [out, r] (PEFT strips the adapter
// name "default"); a trained scalar head as base_model.model.score.weight (modules_to_save). No-op without adapters.
void save_peft_adapter(TransformerImpl& model, const std::string& dir);

}  // namespace rlhf
