// rlhf bench: this machine's GEMM rate, generation throughput (KV cache vs re-computation) and training throughput
// (SFT, RM, PPO by phase) on random models.
// A short table by default, --json for scripts. The measuring lives in tools/rlhf/bench/.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "bench/gemm.h"
#include "bench/generation.h"
#include "bench/measure.h"
#include "bench/training.h"
#include "io/hf_cache.h"
#include "command.h"
#include "common/error.h"
#include "common/options.h"
#include "model/device.h"
#include "train/memory.h"

namespace rlhf::cli {
namespace {

struct BenchArgs {
  bool gemm = false, generate = false, train = false, json = false;
  std::string train_phases = "sft,rm,ppo";
  std::string device = "cpu";
  std::string gemm_sizes = "1024,2048", gemm_dtypes = "float32,bfloat16", modes = "cache,recompute";
  int64_t gemm_repeats = 7;
  bench::GenerateBenchOptions generation;
  bench::TrainBenchOptions training;  // preset, family, seed, warm-up and repeats come from `generation`'s
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

std::vector<int64_t> parse_sizes(const std::string& text) {
  std::vector<int64_t> sizes;
  for (const auto& item : split_list(text)) {
    size_t used = 0;
    int64_t n = 0;
    try {
      n = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || n < 1)
      fail("bench --gemm_sizes", "positive integers separated by commas", "'" + text + "'");
    sizes.push_back(n);
  }
  return sizes;
}

void run(BenchArgs a) {
  if (!a.gemm && !a.generate && !a.train) a.gemm = a.generate = true;
  a.device = pick_device(a.device).str();  // "auto" resolved once: every timer must know whether to wait for a GPU
  auto cpu = bench::cpu_info();
  // How OpenMP's threads wait (the user's setting or the one rlhf chose at start) moves small-op phases by 25-30 %.
  auto variable = [](const char* name) { const char* v = std::getenv(name); return std::string(v ? v : "(unset)"); };
  std::string omp_wait = variable("OMP_WAIT_POLICY"), spin_count = variable("GOMP_SPINCOUNT");
  nlohmann::json report = {{"machine",
                            {{"cpu", cpu.model_name},
                             {"threads", cpu.threads},
                             {"avx512", cpu.avx512},
                             {"bf16_native", cpu.bf16_native},
                             {"cpu_isa_cap", cpu.cpu_isa_cap},
                             {"torch", TORCH_VERSION},
                             {"device", a.device},
                             {"omp_wait_policy", omp_wait},
                             {"gomp_spincount", spin_count}}}};
  if (!a.json)
    std::cout << "machine: " << cpu.description << ", " << cpu.threads << " threads, LibTorch " << TORCH_VERSION
              << ", device " << a.device
              << ", OMP_WAIT_POLICY " << omp_wait << ", GOMP_SPINCOUNT " << spin_count << "\n";
  if (a.gemm) {
    bench::GemmOptions g;
    g.sizes = parse_sizes(a.gemm_sizes);
    g.dtypes = split_list(a.gemm_dtypes);
    g.repeats = a.gemm_repeats;
    g.warmup = a.generation.warmup;
    g.device = a.device;
    auto results = bench::bench_gemm(g);
    report["gemm"] = nlohmann::json::array();
    for (const auto& r : results) report["gemm"].push_back(bench::to_json(r));
    a.generation.gemm_peak_gflops = bench::peak_gflops(results, a.generation.dtype);
    if (!a.json) std::cout << bench::gemm_table(results);
  }
  if (a.generate) {
    a.generation.modes = split_list(a.modes);
    a.generation.device = a.device;
    auto result = bench::bench_generate(a.generation);
    report["generate"] = bench::to_json(result);
    if (!a.json) std::cout << bench::generate_table(result);
  }
  if (a.train) {
    auto& t = a.training;
    t.preset = a.generation.preset, t.family = a.generation.family, t.seed = a.generation.seed;
    t.warmup = a.generation.warmup, t.repeats = a.generation.repeats;
    t.gemm_peak_gflops = a.generation.gemm_peak_gflops;
    t.phases = split_list(a.train_phases);
    t.device = a.device;
    t.profile = a.generation.profile;
    auto result = bench::bench_training(t);
    report["train"] = bench::to_json(result);
    if (!a.json) std::cout << bench::training_table(result);
  }
  if (a.json) std::cout << report.dump(2) << "\n";
}

RegisterCommand reg{{"bench", "Measure GEMM rate, generation and training tokens/s (random weights); table or --json",
                     [](CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto options = std::make_shared<Options>();
  auto& g = a->generation;
  options->add("gemm_sizes", &a->gemm_sizes, "GEMM sizes n (n x n x n), comma-separated");
  options->add("gemm_dtypes", &a->gemm_dtypes, "GEMM dtypes: float32,bfloat16 (bf16 skipped without native support)");
  options->add("gemm_repeats", &a->gemm_repeats, "timed GEMM repeats (median)");
  options->add("device", &a->device, "cpu | cuda | cuda:N (a GPU: timed to the end of its work, peak GPU memory)");
  options->add("preset", &g.preset, "model shape: tiny | demo | 25m | gpt2-small | qwen2-0.5b");
  options->add("family", &g.family, "block type for the preset: gpt2 | llama | qwen2");
  options->add("model", &g.model, "a model directory instead of a preset");
  options->add("dtype", &g.dtype, "float32 | bfloat16");
  options->add("batch_size", &g.batch_size, "prompts per batch");
  options->add("prompt_length", &g.prompt_length, "prompt tokens per row");
  options->add("max_new_tokens", &g.max_new_tokens, "tokens generated per row (no early stop)");
  options->add("modes", &a->modes, "cache,recompute: with the KV cache and/or full re-computation");
  options->add("warmup", &g.warmup, "untimed warm-up runs");
  options->add("repeats", &g.repeats, "timed generation runs (median)");
  options->add("seed", &g.seed, "seed of the random weights and prompts");
  options->add("profile", &g.profile, "time per op under LibTorch's profiler: one more generation per mode (--generate); four more PPO iterations, a warm-up and then one phase profiled in each (--train)");
  auto& t = a->training;
  options->add("train_phases", &a->train_phases, "--train: sft,rm,ppo (none: only the preset's shape)");
  options->add("train_batch_size", &t.batch_size, "--train: SFT sequences / RM prompts per step");
  options->add("sequence_length", &t.sequence_length, "--train: tokens per SFT / RM sequence");
  options->add("rm_responses", &t.rm_responses, "--train: K responses per RM prompt");
  options->add("ppo_rollout_batch_size", &t.ppo_rollout_batch_size, "--train: PPO episodes per iteration");
  options->add("ppo_prompt_length", &t.ppo_prompt_length, "--train: PPO prompt tokens");
  options->add("ppo_response_length", &t.ppo_response_length, "--train: PPO response tokens (no early stop)");
  options->add("ppo_mini_batches", &t.ppo_mini_batches, "--train: PPO minibatches per iteration");
  options->add("train_dtype", &t.dtype, "--train: float32 | bfloat16 (autocast; frozen weights held in bf16)");
  bind_memory_options(*options, t.memory);  // --train: --use_peft, --lora_*, --gradient_checkpointing, --frozen_dtype
  options->attach(app);
  app.add_flag("--gemm", a->gemm, "measure the GEMM rate");
  app.add_flag("--generate", a->generate, "measure generation (KV cache vs re-computation)");
  app.add_flag("--train", a->train, "measure SFT and RM steps and a PPO iteration by phase (with --gemm: MFU)");
  app.add_flag("--json", a->json, "JSON on stdout instead of the table");
  app.callback([a, options, &app] {
    options->check_extras(app);
    if (!a->generation.model.empty()) a->generation.model = resolve_model_path(a->generation.model);  // or a Hub id
    run(*a);
  });
}}};

}  // namespace
}  // namespace rlhf::cli
