// Training throughput on a random model: one SFT step, one reward-model step (K responses per prompt, all C(K,2)
// comparisons), and PPO iterations split into generation, scoring and optimisation. Each phase runs the stages' own
// code (language_model_loss, score_at_last_token + ranking_loss_batch, train_ppo), warm-up excluded, median of repeats,
// with tokens/s, model FLOP/s and their share of the measured GEMM peak, and the peak resident memory of the phase.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/profile.h"
#include "model/config.h"
#include "train/options.h"

namespace rlhf::bench {

struct TrainBenchOptions {
  std::string preset = "demo";
  std::string family = "llama";
  int64_t batch_size = 8;            // SFT sequences per step; RM prompts per step (each with rm_responses rows)
  int64_t sequence_length = 128;     // tokens per SFT / RM row
  int64_t rm_responses = 4;          // K
  int64_t ppo_rollout_batch_size = 16, ppo_prompt_length = 32, ppo_response_length = 32, ppo_mini_batches = 4;
  int64_t warmup = 1;
  int64_t repeats = 3;
  int64_t seed = 0;
  std::vector<std::string> phases = {"sft", "rm", "ppo"};
  double gemm_peak_gflops = 0;       // when known (same run): model-FLOP utilisation against it
  MemoryOptions memory;              // LoRA (PPO: reference = policy base, reward = value base), checkpointing, bf16
  std::string dtype = "float32";     // bfloat16: autocast, and frozen weights held in bf16 (frozen_dtype auto)
  std::string device = "cpu";        // cpu | cuda | cuda:N (GPU: phases timed to the end of the device's work)
  bool profile = false;              // PPO: four more iterations, a warm-up and then one phase of each under LibTorch's profiler
};

struct PhaseRun {
  std::string phase;                 // sft | rm | ppo/generation | ppo/scoring | ppo/optimisation | ppo (the iteration)
  std::vector<double> seconds;       // each timed repeat
  double median_seconds = 0;
  double tokens = 0;                 // tokens processed per repeat (each forward over a token counts once)
  double tokens_per_s = 0;
  double model_gflops_per_s = 0;     // 6·N-style model FLOPs (2 per multiply-add, backward = 2× forward) per second
  double mfu = 0;                    // model_gflops_per_s / gemm peak (0 when none was given)
  int64_t peak_rss_bytes = 0;        // on a GPU: the CUDA allocator's peak allocated bytes
};

struct TrainBenchResult {
  ModelConfig config;
  std::string preset;
  std::string device;
  int64_t parameters = 0;
  bool peak_rss_per_phase = false;   // false: the kernel would not reset the peak, each figure is the peak so far
  std::vector<PhaseRun> runs;
  struct PhaseProfile {
    std::string phase;  // "ppo/generation", ...
    int64_t iteration;  // which iteration of the profiling run (0 is the untimed, unprofiled warm-up)
    Profile profile;
  };
  std::vector<PhaseProfile> ppo_profiles;  // with `profile`: each PPO phase's ops
};

TrainBenchResult bench_training(const TrainBenchOptions& options);

nlohmann::json to_json(const TrainBenchResult& result);
std::string training_table(const TrainBenchResult& result);

// FLOPs of one forward over `rows` sequences of `length` tokens (blocks' matmuls, causal attention, and the LM head on
// every position when `lm_head`, else a scalar head).
double forward_flops(const ModelConfig& config, int64_t rows, int64_t length, bool lm_head);

}  // namespace rlhf::bench
