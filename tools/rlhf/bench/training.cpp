#include "bench/training.h"

#include <torch/torch.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>

#include "bench/measure.h"
#include "bench/presets.h"
#include "common/error.h"
#include "common/files.h"
#include "infer/batch.h"
#include "model/cpu_allocator.h"
#include "model/device.h"
#include "train/loop.h"
#include "train/losses.h"
#include "train/memory.h"
#include "train/ppo.h"

namespace rlhf::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Random token rows of one length (no padding: every row is real text of the same length).
std::vector<Sequence> random_rows(int64_t rows, int64_t length, int64_t vocab, int64_t prompt_length) {
  auto ids = torch::randint(1, vocab, {rows, length}, torch::kLong);
  std::vector<Sequence> out(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    auto row = ids[r];
    out[static_cast<size_t>(r)].ids.assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + length);
    out[static_cast<size_t>(r)].prompt_length = prompt_length;
  }
  return out;
}

void finish(PhaseRun& run, const TrainBenchOptions& o, double flops_per_repeat) {
  run.median_seconds = median(run.seconds);
  if (run.median_seconds <= 0) return;
  run.tokens_per_s = run.tokens / run.median_seconds;
  run.model_gflops_per_s = flops_per_repeat / run.median_seconds / 1e9;
  if (o.gemm_peak_gflops > 0) run.mfu = run.model_gflops_per_s / o.gemm_peak_gflops;
}

// Time `step` (warm-up excluded) and read the phase's peak memory.
PhaseRun time_step(const std::string& name, const TrainBenchOptions& o, bool* peak_reset,
                   const std::function<void()>& step) {
  PhaseRun run;
  run.phase = name;
  release_cached_cpu_memory();  // the previous phase's blocks (other sizes) are not this phase's memory
  *peak_reset = reset_peak_memory(o.device);
  run.seconds = time_repeats(o.warmup, o.repeats, step, o.device);
  run.peak_rss_bytes = peak_memory_bytes(o.device);
  return run;
}

PhaseRun bench_sft(const TrainBenchOptions& o, const ModelConfig& config, bool* peak_reset) {
  torch::manual_seed(static_cast<uint64_t>(o.seed));
  const auto device = pick_device(o.device);
  Transformer model(config);
  init_weights(*model);
  model->to(device);
  model->train();
  prepare_trained_model(*model, o.memory, o.dtype, false, "");
  TrainingOptions t;
  auto optimizer = make_adamw(trainable_parameters(*model), t, 1e-4);
  // Half prompt, half response: the loss is on the response tokens, the forward and backward on all of them.
  auto rows = random_rows(o.batch_size, o.sequence_length, config.vocab_size, o.sequence_length / 2);
  std::vector<const Sequence*> pointers;
  for (const auto& r : rows) pointers.push_back(&r);
  auto batch = pad_right(pointers, 0, device);
  PhaseRun run = time_step("sft", o, peak_reset, [&] {
    AutocastGuard autocast(device, o.dtype);
    auto loss = language_model_loss(*model, batch);
    loss.backward();
    optimizer->step();
    optimizer->zero_grad();
  });
  run.tokens = static_cast<double>(o.batch_size * o.sequence_length);
  finish(run, o, 3 * forward_flops(config, o.batch_size, o.sequence_length, true));
  return run;
}

PhaseRun bench_rm(const TrainBenchOptions& o, const ModelConfig& config, bool* peak_reset) {
  torch::manual_seed(static_cast<uint64_t>(o.seed) + 1);
  const auto device = pick_device(o.device);
  Transformer lm(config);
  init_weights(*lm);
  lm->to(device);
  Transformer model = copy_with_heads(*lm, false, true);
  model->train();
  prepare_trained_model(*model, o.memory, o.dtype, true, "");
  TrainingOptions t;
  auto optimizer = make_adamw(trainable_parameters(*model), t, 1e-5);
  const int64_t K = o.rm_responses, rows = o.batch_size * K;
  auto sequences = random_rows(rows, o.sequence_length, config.vocab_size, o.sequence_length / 2);
  std::vector<const Sequence*> pointers;
  for (const auto& r : sequences) pointers.push_back(&r);
  auto batch = pad_right(pointers, 0, device);
  // Each prompt's K responses ranked 0 > 1 > ... > K-1: all C(K,2) comparisons, one batch element per prompt.
  std::vector<int64_t> offsets;
  std::vector<std::vector<std::pair<int, int>>> pairs(static_cast<size_t>(o.batch_size));
  for (int64_t p = 0; p < o.batch_size; ++p) {
    offsets.push_back(p * K);
    for (int a = 0; a < K; ++a)
      for (int b = a + 1; b < K; ++b) pairs[static_cast<size_t>(p)].emplace_back(a, b);
  }
  PhaseRun run = time_step("rm", o, peak_reset, [&] {
    AutocastGuard autocast(device, o.dtype);
    auto rewards = score_at_last_token(*model, batch.ids, batch.attention);
    auto loss = ranking_loss_batch(rewards, offsets, pairs).loss;
    loss.backward();
    optimizer->step();
    optimizer->zero_grad();
  });
  run.tokens = static_cast<double>(rows * o.sequence_length);
  finish(run, o, 3 * forward_flops(config, rows, o.sequence_length, false));
  return run;
}

// PPO iterations through train_ppo itself, timed per phase by its observer. No early stop (no EOS), so every row
// generates ppo_response_length tokens.
std::vector<PhaseRun> bench_ppo(const TrainBenchOptions& o, const ModelConfig& config, bool* peak_reset,
                                std::vector<TrainBenchResult::PhaseProfile>* profiles) {
  torch::manual_seed(static_cast<uint64_t>(o.seed) + 2);
  Transformer lm(config);
  init_weights(*lm);
  lm->to(pick_device(o.device));  // the copies below follow it; train_ppo runs where the policy is
  PpoModels models;
  models.policy = lm;
  // With LoRA, run_ppo's sharing: the reference is the policy's base, the reward model the value model's.
  models.reference = o.memory.use_peft ? lm : copy_with_heads(*lm, true, false);
  models.reward_model = copy_with_heads(*lm, false, true);
  models.value_model = o.memory.use_peft ? models.reward_model : copy_with_heads(*lm, false, true);
  const int64_t B = o.ppo_rollout_batch_size, P = o.ppo_prompt_length, N = o.ppo_response_length;
  std::vector<std::vector<int64_t>> prompts;
  for (const auto& row : random_rows(B, P, config.vocab_size, P)) prompts.push_back(row.ids);

  char temp[] = "/tmp/rlhf-bench-XXXXXX";
  check(::mkdtemp(temp) != nullptr, "bench: cannot create a temporary folder in /tmp");
  PpoOptions p;
  p.train.output_dir = temp;
  p.train.max_length = P + N;
  p.train.seed = o.seed;
  p.train.learning_rate = 1e-6;
  p.total_episodes = B * (o.warmup + o.repeats);
  p.rollout_batch_size = B;
  p.num_mini_batches = o.ppo_mini_batches;
  p.response_length = N;
  p.quiet = true;
  p.train.memory = o.memory;
  p.train.dtype = o.dtype;

  const std::vector<std::string> names = {"generation", "scoring", "optimisation"};
  std::map<std::string, PhaseRun> runs;
  std::map<std::string, Clock::time_point> started;
  PhaseRun iteration;
  iteration.phase = "ppo";
  release_cached_cpu_memory();
  int64_t seen = 0;  // completed optimisation phases = iterations
  Clock::time_point iteration_start;
  *peak_reset = true;
  auto observe = [&](const char* phase, bool begin) {
    const std::string name = phase;
    synchronize(o.device);  // a phase's GPU work is timed to its end, and not counted in the next phase
    if (begin) {
      if (name == "generation") iteration_start = Clock::now();
      if (seen >= o.warmup) *peak_reset = reset_peak_memory(o.device) && *peak_reset;
      started[name] = Clock::now();
      return;
    }
    const double s = seconds_since(started[name]);
    if (seen >= o.warmup) {
      PhaseRun& run = runs[name];
      run.phase = "ppo/" + name;
      run.seconds.push_back(s);
      run.peak_rss_bytes = std::max(run.peak_rss_bytes, peak_memory_bytes(o.device));
      if (name == "optimisation") iteration.seconds.push_back(seconds_since(iteration_start));
    }
    if (name == "optimisation") ++seen;
  };
  try {
    train_ppo(p, models, prompts, {}, /*eos_id=*/-1, /*pad_id=*/0, nullptr, observe);
    if (o.profile) {
      // Four more iterations (untimed above): the first warms up (a fresh train_ppo creates its optimizer state
      // there), then iteration k profiles phase k, one phase per iteration so that no profiler overhead lands in
      // another phase's record.
      remove_tree(temp);
      check(::mkdir(temp, 0700) == 0, std::string("bench: cannot create ") + temp);
      p.total_episodes = static_cast<int64_t>(names.size() + 1) * B;
      size_t completed = 0;  // iterations finished (optimisation phases ended)
      OpProfiler profiler;
      train_ppo(p, models, prompts, {}, -1, 0, nullptr, [&](const char* phase, bool begin) {
        synchronize(o.device);
        const bool profiled = completed >= 1 && names[completed - 1] == phase;
        if (profiled && begin) profiler.start();
        if (profiled && !begin)
          profiles->push_back({"ppo/" + names[completed - 1], static_cast<int64_t>(completed), profiler.stop()});
        if (!begin && std::string(phase) == "optimisation") ++completed;
      });
    }
  } catch (...) {
    remove_tree(temp);
    throw;
  }
  remove_tree(temp);

  const double scoring_flops = 2 * forward_flops(config, B, P + N, true) + 2 * forward_flops(config, B, P + N, false);
  const double optimisation_flops = 3 * (forward_flops(config, B, P + N, true) + forward_flops(config, B, P + N, false));
  const std::map<std::string, std::pair<double, double>> work = {
      {"generation", {static_cast<double>(B * N), generation_flops(config, B, P, N)}},
      {"scoring", {static_cast<double>(4 * B * (P + N)), scoring_flops}},
      {"optimisation", {static_cast<double>(2 * B * (P + N)), optimisation_flops}}};
  std::vector<PhaseRun> out;
  double iteration_flops = 0;
  for (const auto& name : names) {
    PhaseRun run = runs[name];
    run.phase = "ppo/" + name;
    run.tokens = work.at(name).first;
    finish(run, o, work.at(name).second);
    iteration_flops += work.at(name).second;
    iteration.peak_rss_bytes = std::max(iteration.peak_rss_bytes, run.peak_rss_bytes);
    out.push_back(run);
  }
  iteration.tokens = static_cast<double>(B * N);  // episodes' generated tokens per iteration, as TRL counts them
  finish(iteration, o, iteration_flops);
  out.push_back(iteration);
  return out;
}

}  // namespace

double forward_flops(const ModelConfig& c, int64_t rows, int64_t length, bool lm_head) {
  const double L = static_cast<double>(length), R = static_cast<double>(rows);
  const double head = lm_head ? 2.0 * static_cast<double>(c.vocab_size) * static_cast<double>(c.hidden_size)
                              : 2.0 * static_cast<double>(c.hidden_size);
  // Causal attention: position t attends to t+1 keys; scores and weighted values are 2 matmuls of q_dim each.
  const double attention = 4.0 * static_cast<double>(c.num_layers) * static_cast<double>(c.q_dim()) * L * (L + 1) / 2;
  return R * (L * (block_matmul_flops_per_token(c) + head) + attention);
}

TrainBenchResult bench_training(const TrainBenchOptions& o) {
  check(o.batch_size >= 1 && o.sequence_length >= 2 && o.rm_responses >= 2,
        "bench --train: batch_size >= 1, sequence_length >= 2 and rm_responses >= 2");
  check(o.ppo_rollout_batch_size >= 1 && o.ppo_mini_batches >= 1 && o.ppo_rollout_batch_size % o.ppo_mini_batches == 0,
        "bench --train: ppo_rollout_batch_size must be a positive multiple of ppo_mini_batches");
  check(o.repeats >= 1 && o.warmup >= 0, "bench --train: repeats must be >= 1 and warmup >= 0");
  validate_memory_options(o.memory, o.dtype, "bench --train");
  TrainBenchResult r;
  r.config = preset_config(o.preset, o.family);
  r.preset = o.preset;
  r.device = o.device;
  r.parameters = r.config.parameter_count();
  if (o.sequence_length > r.config.max_position_embeddings ||
      o.ppo_prompt_length + o.ppo_response_length > r.config.max_position_embeddings)
    fail("bench --train", "sequences within the preset's " + std::to_string(r.config.max_position_embeddings) + " positions",
         "sequence_length " + std::to_string(o.sequence_length) + ", PPO prompt + response " +
             std::to_string(o.ppo_prompt_length + o.ppo_response_length));
  bool reset = true;
  r.peak_rss_per_phase = true;
  for (const auto& phase : o.phases) {
    if (phase == "sft") {
      r.runs.push_back(bench_sft(o, r.config, &reset));
    } else if (phase == "rm") {
      r.runs.push_back(bench_rm(o, r.config, &reset));
    } else if (phase == "ppo") {
      for (auto& run : bench_ppo(o, r.config, &reset, &r.ppo_profiles)) r.runs.push_back(run);
    } else if (phase == "none") {
      continue;  // the preset's shape and parameter count only
    } else {
      fail("bench --train_phases", "sft, rm and/or ppo", "'" + phase + "'");
    }
    r.peak_rss_per_phase = r.peak_rss_per_phase && reset;
  }
  return r;
}

nlohmann::json to_json(const TrainBenchResult& r) {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& m : r.runs)
    runs.push_back({{"phase", m.phase}, {"seconds", m.seconds}, {"median_seconds", m.median_seconds},
                    {"tokens", m.tokens}, {"tokens_per_s", m.tokens_per_s},
                    {"model_gflops_per_s", m.model_gflops_per_s}, {"mfu", m.mfu},
                    {"peak_rss_mb", static_cast<double>(m.peak_rss_bytes) / (1 << 20)}});
  nlohmann::json out = {{"model", r.preset}, {"architecture", r.config.architecture}, {"parameters", r.parameters},
                        {"device", r.device}, {"memory", peak_memory_kind(r.device)},
                        {"peak_rss_per_phase", r.peak_rss_per_phase}, {"runs", runs}};
  for (const auto& p : r.ppo_profiles) {
    out["profiles"][p.phase] = to_json(p.profile);
    out["profiles"][p.phase]["iteration"] = p.iteration;
  }
  return out;
}

std::string training_table(const TrainBenchResult& r) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "training: %s (%s, %.1fM parameters, %s)\n", r.preset.c_str(),
                r.config.architecture.c_str(), static_cast<double>(r.parameters) / 1e6, r.device.c_str());
  out += line;
  std::snprintf(line, sizeof line, "%-20s %10s %12s %10s %8s %12s\n", "phase", "median s", "tokens/s", "GFLOP/s", "MFU",
                peak_memory_column(r.device));
  out += line;
  for (const auto& m : r.runs) {
    std::snprintf(line, sizeof line, "%-20s %10.3f %12.0f %10.2f %7.1f%% %12.0f\n", m.phase.c_str(), m.median_seconds,
                  m.tokens_per_s, m.model_gflops_per_s, 100 * m.mfu, static_cast<double>(m.peak_rss_bytes) / (1 << 20));
    out += line;
  }
  for (const auto& p : r.ppo_profiles)
    out += p.phase + " (iteration " + std::to_string(p.iteration) + ") " + profile_table(p.profile);
  return out;
}

}  // namespace rlhf::bench
