// rlhf bench: this machine's GEMM rate and generation throughput (KV cache vs re-computation) on random models.
// A short table by default, --json for scripts. The measuring lives in src/bench/.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <iostream>
#include <sstream>

#include "bench/gemm.h"
#include "bench/generation.h"
#include "bench/measure.h"
#include "command.h"
#include "common/error.h"
#include "common/options.h"

namespace rlhf::cli {
namespace {

struct BenchArgs {
  bool gemm = false, generate = false, json = false;
  std::string gemm_sizes = "1024,2048", gemm_dtypes = "float32,bfloat16", modes = "cache,recompute";
  int64_t gemm_repeats = 7;
  bench::GenerateBenchOptions generation;
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
  if (!a.gemm && !a.generate) a.gemm = a.generate = true;
  auto cpu = bench::cpu_info();
  nlohmann::json report = {{"machine",
                            {{"cpu", cpu.model_name},
                             {"threads", cpu.threads},
                             {"bf16_native", cpu.bf16_native},
                             {"torch", TORCH_VERSION}}}};
  if (!a.json)
    std::cout << "machine: " << cpu.model_name << ", " << cpu.threads << " threads, native bf16: "
              << (cpu.bf16_native ? "yes" : "no") << ", LibTorch " << TORCH_VERSION << "\n";
  if (a.gemm) {
    bench::GemmOptions g;
    g.sizes = parse_sizes(a.gemm_sizes);
    g.dtypes = split_list(a.gemm_dtypes);
    g.repeats = a.gemm_repeats;
    g.warmup = a.generation.warmup;
    auto results = bench::bench_gemm(g);
    report["gemm"] = nlohmann::json::array();
    for (const auto& r : results) report["gemm"].push_back(bench::to_json(r));
    a.generation.gemm_peak_gflops = bench::peak_gflops(results, a.generation.dtype);
    if (!a.json) std::cout << bench::gemm_table(results);
  }
  if (a.generate) {
    a.generation.modes = split_list(a.modes);
    auto result = bench::bench_generate(a.generation);
    report["generate"] = bench::to_json(result);
    if (!a.json) std::cout << bench::generate_table(result);
  }
  if (a.json) std::cout << report.dump(2) << "\n";
}

RegisterCommand reg{{"bench", "Measure GEMM rate and generation tokens/s (random weights); table or --json",
                     [](CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto options = std::make_shared<Options>();
  auto& g = a->generation;
  options->add("gemm_sizes", &a->gemm_sizes, "GEMM sizes n (n x n x n), comma-separated");
  options->add("gemm_dtypes", &a->gemm_dtypes, "GEMM dtypes: float32,bfloat16 (bf16 skipped without native support)");
  options->add("gemm_repeats", &a->gemm_repeats, "timed GEMM repeats (median)");
  options->add("preset", &g.preset, "model shape: tiny | demo | 25m | gpt2-small");
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
  options->add("profile", &g.profile, "one more generation per mode under LibTorch's profiler: time per op");
  options->attach(app);
  app.add_flag("--gemm", a->gemm, "measure the GEMM rate");
  app.add_flag("--generate", a->generate, "measure generation (KV cache vs re-computation)");
  app.add_flag("--json", a->json, "JSON on stdout instead of the table");
  app.callback([a, options, &app] {
    options->check_extras(app);
    run(*a);
  });
}}};

}  // namespace
}  // namespace rlhf::cli
