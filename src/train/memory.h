// Applies MemoryOptions to the models of a stage: LoRA adapters on a frozen base (model/lora.h), per-block gradient
// checkpointing (model/recompute.h), and frozen weights held in bf16. Trained weights stay fp32 (master weights);
// bf16 compute comes from --dtype bfloat16's autocast (train/loop.h).
#pragma once
#include <torch/torch.h>

#include "common/options.h"
#include "model/transformer.h"
#include "train/options.h"

namespace rlhf {

void bind_memory_options(Options& options, MemoryOptions& memory);
// Values no run can start with: an rlhf::Error "STAGE: --option: expected ..., found ...".
void validate_memory_options(const MemoryOptions& memory, const std::string& dtype, const std::string& stage);

// The dtype frozen weights are held in: frozen_dtype, or --dtype when "auto".
torch::Dtype frozen_weight_dtype(const MemoryOptions& memory, const std::string& dtype);

// A model about to be trained: with use_peft its base is frozen (and held in the frozen dtype) and adapters are added
// (the scalar head trained too when `score_head`); gradient checkpointing as asked. `base_model` is recorded in the
// saved adapter_config.json. Call after the model is on its device and before the optimizer is built over
// trainable_parameters(model).
void prepare_trained_model(TransformerImpl& model, const MemoryOptions& memory, const std::string& dtype,
                           bool score_head, const std::string& base_model);

// A model that is only run (PPO's reference, the reward model): no gradients, eval mode, held in the frozen dtype.
void prepare_frozen_model(TransformerImpl& model, const MemoryOptions& memory, const std::string& dtype);

}  // namespace rlhf
