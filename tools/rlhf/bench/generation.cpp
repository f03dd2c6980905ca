#include "bench/generation.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>

#include "bench/measure.h"
#include "bench/presets.h"
#include "common/error.h"
#include "io/model_dir.h"
#include "model/cpu_allocator.h"
#include "model/device.h"
#include "model/generate.h"

namespace rlhf::bench {

namespace {
Transformer make_model(const GenerateBenchOptions& o, torch::Device device) {
  const auto dtype = parse_torch_dtype(o.dtype);
  if (!o.model.empty()) return load_model(o.model, LoadOptions{dtype, device});
  torch::manual_seed(static_cast<uint64_t>(o.seed));
  Transformer model(preset_config(o.preset, o.family));
  init_weights(*model);
  model->to(device, dtype);
  return model;
}
}  // namespace

GenerateBenchResult bench_generate(const GenerateBenchOptions& o) {
  check(o.batch_size >= 1 && o.prompt_length >= 1 && o.max_new_tokens >= 1,
        "bench --generate: batch_size, prompt_length and max_new_tokens must be >= 1");
  check(o.repeats >= 1 && o.warmup >= 0, "bench --generate: repeats must be >= 1 and warmup >= 0");
  for (const auto& mode : o.modes)
    if (mode != "cache" && mode != "recompute") fail("bench --modes", "cache and/or recompute", "'" + mode + "'");

  GenerateBenchResult r;
  const auto device = pick_device(o.device);
  auto model = make_model(o, device);
  model->eval();
  r.config = model->config();
  r.source = o.model.empty() ? o.preset : o.model;
  r.dtype = o.dtype;
  r.device = o.device;
  r.parameters = r.config.parameter_count();
  r.batch_size = o.batch_size, r.prompt_length = o.prompt_length, r.max_new_tokens = o.max_new_tokens;
  r.model_rss_bytes = peak_memory_bytes(o.device);
  if (r.config.learned_positions && o.prompt_length + o.max_new_tokens > r.config.max_position_embeddings)
    fail("bench --generate", "prompt_length + max_new_tokens <= " + std::to_string(r.config.max_position_embeddings) +
                                 " (the model's positions)",
         std::to_string(o.prompt_length + o.max_new_tokens));

  // The same random prompts for every mode; no padding, no early stop, so every row makes max_new_tokens tokens.
  auto prompt_generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed) + 1);
  auto prompt_ids = torch::randint(0, r.config.vocab_size, {o.batch_size, o.prompt_length}, prompt_generator,
                                   torch::TensorOptions().dtype(torch::kLong))
                        .to(device);
  auto prompt_mask = torch::ones_like(prompt_ids);
  const double useful_flops = generation_flops(r.config, o.batch_size, o.prompt_length, o.max_new_tokens);

  std::vector<torch::Tensor> responses;
  for (const auto& mode : o.modes) {
    GenerationOptions g;
    g.do_sample = false;
    g.eos_token_id = -1;
    g.pad_token_id = 0;
    g.use_cache = mode == "cache";
    auto generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed));
    GenerationOutput last;
    auto run = [&] { last = generate(*model, prompt_ids, prompt_mask, g, generator); };

    GenerateRun m;
    m.mode = mode;
    release_cached_cpu_memory();
    r.peak_rss_per_mode = reset_peak_memory(o.device);
    // Warm-up (first-call set-up of kernels and buffers) on a few tokens: a full re-computation run of a 124M model
    // takes minutes, and its later steps set up nothing new.
    g.max_new_tokens = std::min<int64_t>(o.max_new_tokens, 8);
    time_repeats(o.warmup, 0, run, o.device);
    g.max_new_tokens = 1;  // prefill alone (the prompt forward and the first token)
    m.prefill_seconds = median(time_repeats(0, o.repeats, run, o.device));
    g.max_new_tokens = o.max_new_tokens;
    m.seconds = time_repeats(0, o.repeats, run, o.device);
    m.peak_rss_bytes = peak_memory_bytes(o.device);
    responses.push_back(last.response_ids);
    if (o.profile) m.profile = profile_ops(run);

    m.median_seconds = median(m.seconds);
    const double tokens = static_cast<double>(o.batch_size * o.max_new_tokens);
    m.tokens_per_s = m.median_seconds > 0 ? tokens / m.median_seconds : 0;
    const double decode_seconds = m.median_seconds - m.prefill_seconds;
    if (o.max_new_tokens > 1 && decode_seconds > 0)
      m.decode_tokens_per_s = static_cast<double>(o.batch_size * (o.max_new_tokens - 1)) / decode_seconds;
    m.model_gflops_per_s = m.median_seconds > 0 ? useful_flops / m.median_seconds / 1e9 : 0;
    if (o.gemm_peak_gflops > 0) m.mfu = m.model_gflops_per_s / o.gemm_peak_gflops;
    r.runs.push_back(m);
  }
  const GenerateRun *cache = nullptr, *recompute = nullptr;
  for (size_t i = 0; i < r.runs.size(); ++i) (r.runs[i].mode == "cache" ? cache : recompute) = &r.runs[i];
  if (cache && recompute) {
    r.cache_speedup = recompute->tokens_per_s > 0 ? cache->tokens_per_s / recompute->tokens_per_s : 0;
    r.tokens_equal = responses.front().equal(responses.back()) ? 1 : 0;
  }
  return r;
}

nlohmann::json to_json(const GenerateBenchResult& r) {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& m : r.runs) {
    runs.push_back({{"mode", m.mode},
                    {"seconds", m.seconds},
                    {"median_seconds", m.median_seconds},
                    {"tokens_per_s", m.tokens_per_s},
                    {"prefill_seconds", m.prefill_seconds},
                    {"decode_tokens_per_s", m.decode_tokens_per_s},
                    {"model_gflops_per_s", m.model_gflops_per_s},
                    {"mfu", m.mfu},
                    {"peak_rss_mb", static_cast<double>(m.peak_rss_bytes) / (1 << 20)}});
    if (!m.profile.ops.empty()) runs.back()["profile"] = to_json(m.profile);
  }
  nlohmann::json j = {{"model", r.source},
                      {"family", family_name(r.config.family)},
                      {"parameters", r.parameters},
                      {"dtype", r.dtype},
                      {"device", r.device},
                      {"memory", peak_memory_kind(r.device)},
                      {"batch_size", r.batch_size},
                      {"prompt_length", r.prompt_length},
                      {"max_new_tokens", r.max_new_tokens},
                      {"model_rss_mb", static_cast<double>(r.model_rss_bytes) / (1 << 20)},
                      {"peak_rss_per_mode", r.peak_rss_per_mode},
                      {"runs", runs}};
  if (r.cache_speedup > 0) j["cache_speedup"] = r.cache_speedup;
  if (r.tokens_equal >= 0) j["tokens_equal"] = r.tokens_equal == 1;
  return j;
}

std::string generate_table(const GenerateBenchResult& r) {
  char line[256];
  std::snprintf(line, sizeof line, "generate: %s (%s, %.1fM parameters, %s, %s), batch %lld, prompt %lld, new %lld\n",
                r.source.c_str(), family_name(r.config.family).c_str(), static_cast<double>(r.parameters) / 1e6,
                r.dtype.c_str(), r.device.c_str(), static_cast<long long>(r.batch_size), static_cast<long long>(r.prompt_length),
                static_cast<long long>(r.max_new_tokens));
  std::string out = line;
  out += std::string("  mode        tokens/s  median ms  prefill ms   decode tok/s   GFLOP/s    MFU   ") +
         peak_memory_column(r.device) + "\n";
  for (const auto& m : r.runs) {
    char mfu[16] = "     -";  // no GEMM peak measured in this call
    if (m.mfu > 0) std::snprintf(mfu, sizeof mfu, "%5.1f%%", 100 * m.mfu);
    std::snprintf(line, sizeof line, "  %-10s %9.1f %10.1f %11.1f %14.1f %9.1f %s %13.0f\n", m.mode.c_str(),
                  m.tokens_per_s, m.median_seconds * 1e3, m.prefill_seconds * 1e3, m.decode_tokens_per_s,
                  m.model_gflops_per_s, mfu, static_cast<double>(m.peak_rss_bytes) / (1 << 20));
    out += line;
  }
  for (const auto& m : r.runs)
    if (!m.profile.ops.empty()) out += "  " + m.mode + " " + profile_table(m.profile);
  if (r.cache_speedup > 0) {
    std::snprintf(line, sizeof line, "  KV cache / recompute: %.2fx; greedy tokens equal: %s\n", r.cache_speedup,
                  r.tokens_equal == 1 ? "yes" : "NO");
    out += line;
  }
  return out;
}

}  // namespace rlhf::bench
