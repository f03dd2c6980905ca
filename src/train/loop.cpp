#include "train/loop.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <random>

#include "common/cpu_features.h"
#include "common/error.h"
#include "common/files.h"
#include "common/rendezvous.h"
#include "model/cpu_linear.h"
#include "train/fused_adamw.h"

namespace rlhf {

std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<torch::Tensor>& parameters, const TrainingOptions& t,
                                               double learning_rate) {
  auto options = torch::optim::AdamWOptions(learning_rate)
                     .betas({t.adam_beta1, t.adam_beta2})
                     .eps(t.adam_epsilon)
                     .weight_decay(t.weight_decay);
  if (t.optim == "adamw_torch") return std::make_unique<torch::optim::AdamW>(parameters, options);
  return std::make_unique<FusedAdamW>(parameters, options);
}

double scheduled_learning_rate(const TrainingOptions& t, double base_lr, int64_t step, int64_t total_steps) {
  const int64_t warmup = t.warmup_steps > 0 ? t.warmup_steps
                                            : static_cast<int64_t>(std::ceil(t.warmup_ratio * static_cast<double>(total_steps)));
  if (step < warmup) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (t.lr_scheduler_type == "constant") return base_lr;
  const double progress =
      total_steps > warmup ? static_cast<double>(step - warmup) / static_cast<double>(total_steps - warmup) : 1.0;
  if (t.lr_scheduler_type == "linear") return base_lr * std::max(0.0, 1.0 - progress);
  if (t.lr_scheduler_type == "cosine") return base_lr * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
  fail("lr_scheduler_type", "cosine, linear or constant", "'" + t.lr_scheduler_type + "'");
}

std::optional<std::string> checkpoint_to_resume(const TrainingOptions& t) {
  std::string value = t.resume_from_checkpoint;
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::tolower(c); });
  if (value.empty() || value == "false" || value == "0" || value == "no" || value == "off") return std::nullopt;
  if (value == "true" || value == "1" || value == "yes" || value == "on") {
    if (auto newest = newest_checkpoint(t.output_dir)) return newest;
    // As TRL does ("No valid checkpoint found in output directory"): a resume that would silently start over is an
    // error (a mistyped --output_dir, or a run killed before its first checkpoint).
    fail(t.output_dir + "/checkpoints", "a checkpoint to resume from (--resume_from_checkpoint true)",
         "none (a run writes one every --save_steps steps and at each epoch's end; to start from the beginning, leave "
         "out --resume_from_checkpoint)");
  }
  check_checkpoint_folder(t.resume_from_checkpoint);
  return t.resume_from_checkpoint;
}

std::vector<std::string> earlier_run_outputs(const std::string& output_dir) {
  namespace fs = std::filesystem;
  // PREFIX + characters of `allowed` + SUFFIX: epoch-3, model-00001-of-00002.safetensors.
  auto is_numbered = [](const std::string& name, const std::string& prefix, const std::string& suffix,
                        const char* allowed) {
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      return false;
    const std::string middle = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    return middle.find_first_not_of(allowed) == std::string::npos;
  };
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(output_dir, error)) {
    const std::string name = entry.path().filename().string();
    const bool ours = name == "checkpoints" || name == "metrics.jsonl" || name == "config.json" ||
                      name == "model.safetensors" || name == "model.safetensors.index.json" || name == "adapter" ||
                      name == "reward_normalization.json" || name == "value_model" || name == "rollouts" ||
                      name.rfind("events.out.tfevents.", 0) == 0 || is_numbered(name, "epoch-", "", "0123456789") ||
                      is_numbered(name, "model-", ".safetensors", "0123456789-of");
    if (ours) found.push_back(entry.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::unique_ptr<FolderLock> claim_output_dir(const TrainingOptions& t, DataParallel& dp) {
  // Only rank 0 looks, and its verdict reaches every rank before any of them goes on: a rank that looked for itself
  // could find what rank 0 has already written in this very run (its rollouts, its first metrics) and refuse it.
  std::unique_ptr<FolderLock> lock;
  std::optional<Error> refusal;
  if (dp.is_main()) {
    try {
      // The lock first: a folder in use names the process using it, whatever else it holds.
      lock = std::make_unique<FolderLock>(t.output_dir);
      if (!checkpoint_to_resume(t) && !t.overwrite_output_dir) {
        const auto earlier = earlier_run_outputs(t.output_dir);
        std::string names;
        for (const auto& path : earlier)
          names += (names.empty() ? "" : ", ") + std::filesystem::path(path).filename().string();
        if (!earlier.empty())
          fail(t.output_dir, "an output folder without an earlier run's results, or --resume_from_checkpoint to "
                             "continue that run, or --overwrite_output_dir to start over in it (its results are removed)",
               names);
      }
    } catch (const Error& e) {
      refusal = e;
    }
  }
  if (dp.sum({refusal ? 1.0 : 0.0})[0] > 0) {
    if (refusal) throw *refusal;
    fail(t.output_dir, "an output folder rank 0 accepts", "rank 0 refused it (its error says why)");
  }
  const bool rank0 = dp.is_main();
  if (!rank0) return nullptr;
  namespace fs = std::filesystem;
  size_t removed = remove_stale_temp_files(t.output_dir);
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(t.output_dir, error)) {
    std::error_code kind;
    if (entry.is_directory(kind) && !entry.is_symlink(kind)) removed += remove_stale_temp_files(entry.path().string());
  }
  if (removed > 0)
    std::fprintf(stderr, "%s: removed %zu temporary file%s left by a run that was killed while saving\n",
                 t.output_dir.c_str(), removed, removed == 1 ? "" : "s");
  return lock;
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

namespace {

std::atomic<bool> g_interrupted{false};
void on_signal(int) { g_interrupted.store(true); }

}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupt_requested() { return g_interrupted.load(); }

std::vector<size_t> group_by_length(const std::vector<size_t>& order, const std::vector<int64_t>& lengths,
                                    int64_t global_batch) {
  // HF's size: 50 batches, or fewer so that there are at least four megabatches (at least one batch).
  const int64_t batch = std::max<int64_t>(1, global_batch);
  const int64_t batches = std::max<int64_t>(1, std::min<int64_t>(static_cast<int64_t>(order.size()) / (batch * 4), 50));
  const size_t megabatch = static_cast<size_t>(batches * batch);
  const auto length = [&](size_t example) { return lengths.at(example); };
  std::vector<size_t> grouped(order);
  for (size_t first = 0; first < grouped.size(); first += megabatch) {
    const auto begin = grouped.begin() + static_cast<std::ptrdiff_t>(first);
    const auto end = grouped.begin() + static_cast<std::ptrdiff_t>(std::min(grouped.size(), first + megabatch));
    std::stable_sort(begin, end, [&](size_t a, size_t b) { return length(a) > length(b); });
  }
  // Each megabatch starts with its longest: swapping the longest megabatch's head to the front moves the longest first.
  size_t longest = 0;
  for (size_t start = 0; start < grouped.size(); start += megabatch)
    if (length(grouped[start]) > length(grouped[longest])) longest = start;
  std::swap(grouped[0], grouped[longest]);
  return grouped;
}

std::vector<size_t> epoch_order(size_t n, int64_t seed, int64_t epoch) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 1000003ull + static_cast<uint64_t>(epoch));
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng() % i]);  // Fisher–Yates, portable
  return order;
}

AutocastGuard::AutocastGuard(torch::Device device, const std::string& dtype) : type_(device.type()) {
  if (dtype == "float32" || dtype == "fp32") return;
  check(dtype == "bfloat16" || dtype == "bf16", "dtype: expected float32 or bfloat16, found '" + dtype + "'");
  if (type_ == c10::DeviceType::CPU && !cpu_bf16_products()) return;  // fp32 products (model/cpu_linear.h)
  previous_ = at::autocast::is_autocast_enabled(type_);
  at::autocast::set_autocast_enabled(type_, true);
  at::autocast::set_autocast_dtype(type_, at::kBFloat16);
  at::autocast::increment_nesting();
  enabled_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(type_, previous_);
}

bool BadStepGuard::check(double loss, double grad_norm, int64_t step, const std::string& output_dir) {
  if (std::isfinite(loss) && std::isfinite(grad_norm)) {
    in_a_row_ = 0;
    last_finite_step_ = step;
    return true;
  }
  if (in_a_row_++ == 0) streak_start_ = step;
  ++skipped_;
  if (in_a_row_ < limit_) return false;
  std::string advice = "no checkpoint holds weights that trained a finite step; start again with a lower --learning_rate";
  if (const auto good = newest_checkpoint(output_dir, last_finite_step_))
    advice = "the last good checkpoint is " + *good +
             " (--resume_from_checkpoint true continues from it; lower --learning_rate first)";
  if (main_) {
    const auto renamed = set_aside_checkpoints(output_dir, last_finite_step_, ".non-finite");
    for (size_t i = 0; i < renamed.size(); ++i) advice += std::string(i == 0 ? "; set aside " : ", ") + renamed[i];
    if (!renamed.empty()) advice += " (the weights the non-finite steps ran on)";
  }
  fail("training stopped at step " + std::to_string(step) + ": " + std::to_string(in_a_row_) +
       " steps in a row with a non-finite loss or gradient norm since step " + std::to_string(streak_start_) +
       " (last loss " + std::to_string(loss) + ", gradient norm " + std::to_string(grad_norm) + "); " + advice);
}

EpochSchedule epoch_schedule(const TrainingOptions& t, int64_t examples, int64_t world_size) {
  const int64_t global_batch = t.per_device_train_batch_size * world_size;  // N ranks × b: one process with N·b
  const int64_t micro_per_epoch = (examples + global_batch - 1) / global_batch;
  EpochSchedule s;
  s.steps_per_epoch = std::max<int64_t>(1, micro_per_epoch / t.gradient_accumulation_steps);
  s.total_steps = t.max_steps > 0 ? t.max_steps : s.steps_per_epoch * t.num_train_epochs;
  s.epochs = (s.total_steps + s.steps_per_epoch - 1) / s.steps_per_epoch;
  return s;
}

StepLoop::StepLoop(const TrainingOptions& t, DataParallel& dp, const std::string& label, int64_t total_steps, bool quiet,
                   Checkpointable what, const std::vector<std::string>& required)
    : t_(t), dp_(dp), what_(std::move(what)), guard_(t.max_bad_steps, dp.is_main()) {
  int64_t metrics_lines = -1;  // metrics.jsonl lines written when the checkpoint was taken (-1: not recorded)
  if (const auto folder = checkpoint_to_resume(t)) {
    state_ = load_checkpoint(*folder, what_, required);
    step_ = state_["step"].get<int64_t>();
    metrics_lines = state_.value("metrics_lines", int64_t{-1});
    guard_.resumed_at(step_);
  } else if (t.overwrite_output_dir && dp.is_main()) {
    for (const auto& path : earlier_run_outputs(t.output_dir)) remove_tree(path);
  }
  make_dirs(t.output_dir);
  // Where oneDNN runs bf16 products without bf16 arithmetic (AVX-512 without AVX512-BF16 or AMX), it converts every
  // operand: a 4M-parameter GPT-2's 20 SFT steps took 7.9 s in bf16 against 4.0 s in fp32 (Intel Xeon with AVX512-BF16
  // hidden by RLHF_CPU_ISA=avx512; natively 3.0 s against 4.0 s). Elsewhere bf16 costs no time: hardware bf16, or fp32
  // products (AVX2, model/cpu_linear.h).
  const bool bf16 = t.dtype == "bfloat16" || t.dtype == "bf16";
  if (dp.is_main() && bf16 && pick_device(t.device).is_cpu() && cpu_bf16_products() && !cpu_features().bf16_native())
    std::fprintf(stderr,
                 "note: --dtype bfloat16 trains about 2x slower than float32 on this CPU (%s: no bf16 arithmetic, "
                 "oneDNN converts every product); bf16 saves memory here, not time\n",
                 cpu_features().describe().c_str());
  if (dp.is_main() && !t.training_args.empty()) write_file_atomic(t.output_dir + "/training_args.json", t.training_args);
  if (dp.is_main())  // rank 0 alone logs
    logger_.emplace(t.output_dir, resumed() ? std::optional<int64_t>(step_) : std::nullopt,
                    metrics_lines >= 0 ? std::optional<int64_t>(metrics_lines) : std::nullopt);
  ProgressOptions progress_options;
  progress_options.initial_step = step_;
  if (quiet || !dp.is_main()) progress_options.plain_interval_s = 1e9;
  progress_.emplace(label, total_steps, progress_options);
  install_interrupt_handlers();
}

void StepLoop::checkpoint(int64_t step, nlohmann::json state, const std::vector<DataParallel*>& groups) {
  if (guard_.in_streak()) return;  // the same decision on every rank: the guard sees the global loss and norm
  for (auto* group : groups) group->gather_optimizer_state();
  if (dp_.is_main()) {
    state["metrics_lines"] = logger_->lines_written();
    // The newest checkpoint a finite step came after is kept whatever --save_total_limit says: the one written now
    // is not known good until the next step is finite.
    const auto good = newest_checkpoint(t_.output_dir, guard_.last_finite_step());
    const int64_t protect = good ? std::stoll(std::filesystem::path(*good).filename().string().substr(5)) : -1;
    save_checkpoint(t_.output_dir, step, what_, state, t_.save_total_limit, protect);
  }
  for (auto* group : groups) group->release_optimizer_state();
}

void StepLoop::log_evaluation(const Scalars& scalars) {
  Scalars named;
  for (const auto& [name, value] : scalars) named.emplace_back("eval/" + name, value);  // HF's eval_NAME, as TensorBoard shows it
  if (!named.empty()) log(step_, named);
}

void StepLoop::end_step(int64_t step, bool interrupted, const std::function<void()>& checkpoint) {
  if (interrupted) {
    const bool written = !guard_.in_streak();
    checkpoint();
    progress_->finish();
    throw Interrupted(written);
  }
  if (t_.save_strategy == "steps" && t_.save_steps > 0 && step % t_.save_steps == 0) checkpoint();
}

double StepLoop::run_epochs(const EpochSchedule& schedule, int64_t examples, const StepFunctions& f,
                            const std::vector<torch::Tensor>& parameters, torch::optim::Optimizer& optimizer) {
  const int64_t accumulation = t_.gradient_accumulation_steps;
  const int64_t global_batch = t_.per_device_train_batch_size * dp_.world_size();
  const int64_t micro_per_epoch = schedule.steps_per_epoch * accumulation;
  std::vector<std::string> names = {"loss"};
  names.insert(names.end(), f.counts.begin(), f.counts.end());
  // The logging window (the sums of the steps since the last log) is part of the state: a run interrupted between two
  // logged steps must log the same means after resuming as an uninterrupted one.
  std::vector<double> window(names.size(), 0.0);
  for (size_t k = 0; k < names.size(); ++k) window[k] = state_.value("window_" + names[k], 0.0);
  int64_t window_steps = state_.value("window_steps", int64_t{0});
  std::vector<double> totals(names.size(), 0.0);
  for (size_t k = 0; k < names.size(); ++k) totals[k] = state_.value("total_" + names[k], 0.0);
  const int64_t start_epoch = state_.value("epoch", int64_t{0}), start_micro = state_.value("micro_batch", int64_t{0});
  auto save = [&](int64_t epoch, int64_t micro) {
    nlohmann::json state = {{"epoch", epoch}, {"micro_batch", micro}, {"window_steps", window_steps}};
    for (size_t k = 0; k < names.size(); ++k) state["window_" + names[k]] = window[k], state["total_" + names[k]] = totals[k];
    checkpoint(step_, state, {&dp_});
  };
  double train_loss = 0;
  // A checkpoint taken after an epoch's last step still names that epoch (with micro_batch past its end), so that a
  // run resumed from it still runs the epoch's end (evaluation, the epoch's model) before going on.
  for (int64_t epoch = start_epoch; epoch < schedule.epochs; ++epoch) {
    auto order = epoch_order(static_cast<size_t>(examples), t_.seed, epoch);
    if (t_.group_by_length) {
      if (f.lengths.size() != order.size())
        fail("group_by_length", "one length per example (" + std::to_string(order.size()) + ")",
             std::to_string(f.lengths.size()));
      order = group_by_length(order, f.lengths, global_batch * accumulation);  // HF: the step's examples
    }
    std::vector<double> step_sums(names.size(), 0.0);
    for (int64_t micro = epoch == start_epoch ? start_micro : 0; micro < micro_per_epoch; ++micro) {
      if (step_ >= schedule.total_steps) break;
      if (micro * global_batch >= examples) break;
      const auto [first, last] = dp_.rows(micro, t_.per_device_train_batch_size, examples);
      std::vector<size_t> rows;
      for (int64_t i = first; i < last; ++i) rows.push_back(order[static_cast<size_t>(i)]);
      const std::vector<double> sums = f.micro_batch(rows);
      for (size_t k = 0; k < names.size(); ++k) step_sums[k] += sums[k];
      if ((micro + 1) % accumulation != 0) continue;

      // The step's sums and any rank's interrupt, in one all-reduce; then the gradients.
      std::vector<double> global = step_sums;
      global.push_back(interrupt_requested() ? 1.0 : 0.0);
      global = dp_.sum(global);
      const bool any_rank_interrupted = global.back() > 0;
      const double step_loss = global[0];
      dp_.average_gradients();

      const double lr = scheduled_learning_rate(t_, t_.learning_rate, step_, schedule.total_steps);
      set_learning_rate(optimizer, lr);
      const double grad_norm =
          t_.max_grad_norm > 0 ? torch::nn::utils::clip_grad_norm_(parameters, t_.max_grad_norm) : 0.0;
      if (guard_.check(step_loss, grad_norm, step_ + 1, t_.output_dir)) dp_.optimizer_step();  // step + 1: as logged
      optimizer.zero_grad();
      ++step_;
      dp_.check_parameters(step_);
      for (size_t k = 0; k < names.size(); ++k) window[k] += global[k], totals[k] += global[k];
      ++window_steps;
      show(step_, {{"loss", step_loss}, {"lr", lr}});
      if (step_ % t_.logging_steps == 0 || step_ == schedule.total_steps) {
        train_loss = window[0] / static_cast<double>(window_steps);
        Scalars scalars = {{"loss", train_loss}};
        if (f.window_scalars) {
          const double epochs_done = static_cast<double>(epoch) +
                                     static_cast<double>(micro + 1) / static_cast<double>(micro_per_epoch);
          for (auto& scalar : f.window_scalars(window, window_steps, epochs_done, totals)) scalars.push_back(scalar);
        }
        scalars.insert(scalars.end(), {{"learning_rate", lr}, {"grad_norm", grad_norm},
                                       {"skipped_steps", static_cast<double>(guard_.skipped())}});
        log(step_, scalars);
        window.assign(names.size(), 0.0), window_steps = 0;
      }
      if (f.evaluate && evaluates_at_step(t_, step_)) log_evaluation(f.evaluate());
      step_sums.assign(names.size(), 0.0);
      end_step(step_, dp_.active() ? any_rank_interrupted : interrupt_requested(), [&] { save(epoch, micro + 1); });
    }
    if (f.evaluate && evaluates_at_epoch_end(t_)) log_evaluation(f.evaluate());
    if (f.end_of_epoch) f.end_of_epoch(epoch);
    if (t_.save_strategy != "no") save(epoch + 1, 0);
  }
  progress_->finish();
  return train_loss;
}

}  // namespace rlhf
