// Generation throughput: tokens/s with the KV cache and with full re-computation on the same random model, greedy,
// no early stop, warm-up excluded, median of repeats, peak resident memory per mode.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/profile.h"
#include "model/config.h"

namespace rlhf::bench {

struct GenerateBenchOptions {
  std::string preset = "demo";
  std::string family = "gpt2";
  std::string model;                 // a model directory instead of a preset ("" = preset with random weights)
  std::string dtype = "float32";
  std::string device = "cpu";        // cpu | cuda | cuda:N (GPU: timed to the end of the device's work)
  int64_t batch_size = 8;
  int64_t prompt_length = 32;
  int64_t max_new_tokens = 128;
  int64_t warmup = 1;
  int64_t repeats = 3;
  int64_t seed = 0;
  std::vector<std::string> modes = {"cache", "recompute"};
  double gemm_peak_gflops = 0;       // when known (same run): model-FLOP utilisation is reported against it
  bool profile = false;              // one more run per mode under LibTorch's profiler: time per op
};

struct GenerateRun {
  std::string mode;                  // "cache" | "recompute"
  std::vector<double> seconds;       // each timed run
  double median_seconds = 0;
  double tokens_per_s = 0;           // batch × new tokens / median (prefill included, as a user sees it)
  double prefill_seconds = 0;        // median of the prompt forward plus the first token
  double decode_tokens_per_s = 0;    // batch × (new tokens - 1) / (median - prefill)
  double model_gflops_per_s = 0;     // useful FLOPs (those of KV-cache generation) per second
  double mfu = 0;                    // model_gflops_per_s / gemm peak (0 when no peak was given)
  int64_t peak_rss_bytes = 0;       // on a GPU: the CUDA allocator's peak allocated bytes
  Profile profile;                   // empty unless options.profile
};

struct GenerateBenchResult {
  ModelConfig config;
  std::string source;                // preset name or model directory
  std::string dtype;
  std::string device;
  int64_t parameters = 0, batch_size = 0, prompt_length = 0, max_new_tokens = 0;
  int64_t model_rss_bytes = 0;       // resident size once the model exists
  bool peak_rss_per_mode = false;    // false: the kernel would not reset the peak, so each figure is the peak so far
  std::vector<GenerateRun> runs;
  double cache_speedup = 0;          // cache tokens/s ÷ recompute tokens/s (0 unless both ran)
  int tokens_equal = -1;             // greedy tokens of cache and recompute identical: 1/0; -1 when not compared
};

GenerateBenchResult bench_generate(const GenerateBenchOptions& options);

nlohmann::json to_json(const GenerateBenchResult& result);
std::string generate_table(const GenerateBenchResult& result);

}  // namespace rlhf::bench
