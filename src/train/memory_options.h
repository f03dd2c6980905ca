// The memory features' options, with the names TRL / PEFT / HF Trainer users know. Part of TrainingOptions, so every
// stage has them; src/train/memory.h applies them to a model.
#pragma once
#include <cstdint>
#include <string>

namespace rlhf {

struct MemoryOptions {
  bool use_peft = false;              // LoRA adapters on a frozen base (TRL's ModelConfig.use_peft)
  int64_t lora_r = 16;                // TRL's defaults: r 16, alpha 32, dropout 0.05
  double lora_alpha = 32;
  double lora_dropout = 0.05;
  std::string lora_target_modules;    // comma-separated HF module names, "all-linear", or "" (PEFT's default per family)
  bool gradient_checkpointing = false;
  std::string frozen_dtype = "auto";  // auto (= --dtype) | float32 | bfloat16: how frozen weights are held
};

}  // namespace rlhf
