// The training loop (Marian's habit: one helper that schedules, logs, checkpoints and resumes instead of a copy per
// stage). StepLoop::run_epochs is SFT's and the reward model's whole loop: epochs in a seeded order, micro-batches
// sharded over ranks, gradient accumulation, the learning-rate schedule, clipping, the bad-step guard, the logging
// window, checkpoints (io/checkpoint.h writes them) every --save_steps and at each epoch's end, and SIGINT/SIGTERM,
// which write a checkpoint and exit 130; the stage gives it one micro-batch's forward and backward. PPO, whose
// iteration is its own (rollouts, scoring, PPO epochs), uses the same object for resuming, logging, checkpoints and
// interrupts.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/files.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "io/checkpoint.h"
#include "model/device.h"
#include "train/distributed.h"
#include "train/options.h"

namespace rlhf {

// AdamW (ε added after bias correction, as PyTorch does) over `parameters`: train/fused_adamw.h's one-kernel update
// for --optim adamw_torch_fused, LibTorch's op-by-op torch::optim::AdamW for adamw_torch. Same state either way.
std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<torch::Tensor>& parameters, const TrainingOptions& t,
                                               double learning_rate);
double scheduled_learning_rate(const TrainingOptions& t, double base_lr, int64_t step, int64_t total_steps);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// SIGINT / SIGTERM set a flag; trainers check it after each step, checkpoint, and throw Interrupted (exit code 130).
void install_interrupt_handlers();
bool interrupt_requested();
struct Interrupted : std::runtime_error {
  // `written` false: inside a streak of non-finite steps, where no checkpoint is written (BadStepGuard).
  explicit Interrupted(bool written = true)
      : std::runtime_error(written ? "interrupted: checkpoint written"
                                   : "interrupted: no checkpoint written (the last steps were not finite)") {}
};

// Rank 0's hold on --output_dir from the start of a run to its end, final models included: the folder's lock
// (FolderLock: a second run into the folder is refused, naming the first's pid) and the temporary files that a run
// killed while saving left in the folder or its subfolders (NAME.tmp-PID) removed. Other ranks, which share the
// folder, hold nothing (null). Taken before anything is loaded, so a second run is refused at once, and so are, as
// HF's Trainer does, a fresh run into a folder that holds an earlier run's results (earlier_run_outputs) without
// --overwrite_output_dir and a --resume_from_checkpoint with nothing to resume (checkpoint_to_resume). Rank 0 decides
// and every rank of `dp` learns its verdict (one all-reduce), so all of them stop, or go on, together.
std::unique_ptr<FolderLock> claim_output_dir(const TrainingOptions& t, DataParallel& dp);

// The checkpoint folder --resume_from_checkpoint names: nullopt for a fresh start ("", false), output_dir's newest for
// true (an error when it has none, as TRL's "No valid checkpoint found"), else the path, checked to be a checkpoint.
std::optional<std::string> checkpoint_to_resume(const TrainingOptions& t);

// What a run of sft, rm or ppo leaves in `output_dir` that a fresh run there would replace or mix with its own (the
// checkpoints, the model directory, epoch-N and value_model folders, metrics and TensorBoard files, rollouts), as paths
// of those that exist. Tokenizer files and anything else in the folder are not ours to remove and are left out.
std::vector<std::string> earlier_run_outputs(const std::string& output_dir);

// A deterministic shuffle of 0..n-1 for an epoch (same seed and epoch -> same order, so a resumed run sees the same data).
std::vector<size_t> epoch_order(size_t n, int64_t seed, int64_t epoch);
// HF's LengthGroupedSampler (get_length_grouped_indices) on an epoch's order: megabatches of 50 steps' examples (fewer
// when that leaves under four megabatches), in `order`'s order, each sorted longest first (stably); the longest
// example overall swaps places with the first, so a run that runs out of memory does so at its first step.
// lengths[i]: example i's tokens; global_batch: the examples of one optimizer step.
std::vector<size_t> group_by_length(const std::vector<size_t>& order, const std::vector<int64_t>& lengths,
                                    int64_t global_batch);

// bf16 autocast while in scope when `dtype` is "bfloat16" (weights, gradients and optimizer state stay fp32): matmuls
// run in bf16 on CUDA, and on CPUs where oneDNN has bf16 kernels. Nothing happens for "float32", nor on a CPU without
// those kernels, where bf16 products would be slower than fp32 ones (cpu_bf16_products(), model/cpu_linear.h).
class AutocastGuard {
 public:
  AutocastGuard(torch::Device device, const std::string& dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool enabled_ = false, previous_ = false;
  c10::DeviceType type_ = c10::DeviceType::CPU;
};

// Counts steps whose loss or gradient norm was not finite (skipped: they never reach the weights); fails after `limit`
// in a row. A checkpoint holds the weights after its step; those of the last finite step before a streak are the ones
// the streak ran on, so a resume from it would repeat the streak (lower learning rate or not: the step's loss comes
// before its update). The good checkpoints are those older than the last finite step, and the error names the newest.
class BadStepGuard {
 public:
  BadStepGuard(int64_t limit, bool main) : limit_(limit), main_(main) {}
  // A run resumed from the checkpoint of `step`: the checkpoints before it led to a finite step (it was written after
  // one), it has not yet.
  void resumed_at(int64_t step) { last_finite_step_ = step; }
  // True when the step is good (apply it); false when it must be skipped. The `limit`-th bad step in a row fails: rank 0
  // (`main`) first renames the checkpoints holding the streak's weights step-N.non-finite, so that
  // --resume_from_checkpoint true continues from the good one the message names.
  bool check(double loss, double grad_norm, int64_t step, const std::string& output_dir);
  int64_t skipped() const { return skipped_; }
  // Inside a streak of bad steps: no checkpoint is written (it would hold the weights the streak runs on).
  bool in_streak() const { return in_a_row_ > 0; }
  // The newest step whose checkpoint is known good (a finite step came after it), for the rotation to keep: any
  // checkpoint before the last finite step.
  int64_t last_finite_step() const { return last_finite_step_; }

 private:
  int64_t limit_;
  bool main_;
  int64_t in_a_row_ = 0, skipped_ = 0, last_finite_step_ = 0, streak_start_ = 0;
};

// How many steps a run over `examples` makes: micro-batches of per_device_train_batch_size rows on each of
// `world_size` ranks, gradient_accumulation_steps of them per step (a last, incomplete step of an epoch is dropped);
// --max_steps > 0 overrides the epochs.
struct EpochSchedule {
  int64_t steps_per_epoch = 0, total_steps = 0, epochs = 0;
};
EpochSchedule epoch_schedule(const TrainingOptions& t, int64_t examples, int64_t world_size);

// What a stage gives StepLoop::run_epochs.
struct StepFunctions {
  // Forward and backward of one micro-batch: `examples` are this rank's indices into the dataset (none when the end of
  // an epoch left it nothing). Returns what it adds to the step's sums: the loss first (its share of the global mean,
  // so that the sum over micro-batches and ranks is the step's loss), then the stage's own counts (`counts`).
  std::function<std::vector<double>(const std::vector<size_t>& examples)> micro_batch;
  std::vector<std::string> counts;  // their names, e.g. the RM's {"correct", "pairs"}; checkpoints keep "window_NAME"
  // Each example's length in tokens, for --group_by_length (the batch pads to its longest).
  std::vector<int64_t> lengths;
  // The stage's scalars logged after "loss" when a logging window closes: `window` holds its steps' sums (loss first,
  // then the counts), `steps` their number, `epoch` the epochs done so far (fractional), `totals` the sums over every
  // step of the run so far (kept in checkpoints: TRL's num_tokens).
  std::function<Scalars(const std::vector<double>& window, int64_t steps, double epoch, const std::vector<double>& totals)>
      window_scalars;
  // After an epoch's last step, before the checkpoint that closes it (the epoch's model), on every rank.
  std::function<void(int64_t epoch)> end_of_epoch;
  // The held-out evaluation (on every rank; rank 0's scalars are logged, each as eval/NAME), when eval_strategy says:
  // every eval_steps steps (after the step's own line) or at each epoch's end (before end_of_epoch).
  std::function<Scalars()> evaluate;
};

class StepLoop {
 public:
  // Resumes `what` from the checkpoint --resume_from_checkpoint names (checkpoint_to_resume; its state.json must hold
  // each of `required`), or, for a fresh run with --overwrite_output_dir, removes the earlier run's outputs (rank 0;
  // only now that the stage has loaded its models, which may have come from there), then writes t.training_args to
  // OUTPUT/training_args.json (rank 0; only now that the stage has loaded its models and data, so a run that fails to
  // start leaves the previous run's file), opens the run's logs
  // (rank 0: metrics.jsonl and TensorBoard events) and the progress bar (`label`, `total_steps`; silent when `quiet`
  // and on other ranks), and installs the SIGINT/SIGTERM handlers.
  // dp.attach comes after, so that every rank starts from the resumed weights.
  StepLoop(const TrainingOptions& t, DataParallel& dp, const std::string& label, int64_t total_steps, bool quiet,
           Checkpointable what, const std::vector<std::string>& required = {});
  StepLoop(const StepLoop&) = delete;
  StepLoop& operator=(const StepLoop&) = delete;

  const nlohmann::json& resumed_state() const { return state_; }  // the checkpoint's state.json ({} for a fresh run)
  bool resumed() const { return !state_.empty(); }
  int64_t step() const { return step_; }                           // steps done (run_epochs counts them)
  BadStepGuard& guard() { return guard_; }
  void log(int64_t step, const Scalars& scalars) {  // rank 0's metrics.jsonl and events
    if (logger_) logger_->log(step, scalars);
  }
  void show(int64_t step, const Scalars& scalars) { progress_->update(step, scalars); }  // the progress bar
  // A checkpoint of `what` at `step` with `state` (and the metrics.jsonl lines written so far, so that a resumed run
  // logs each line once): written by rank 0, with ZeRO-1 after every one of `groups` gathers its optimizer's moments.
  void checkpoint(int64_t step, nlohmann::json state, const std::vector<DataParallel*>& groups);
  // After each step: when SIGINT/SIGTERM came (`interrupted`: on any rank), `checkpoint()` and then Interrupted;
  // else `checkpoint()` every --save_steps steps.
  void end_step(int64_t step, bool interrupted, const std::function<void()>& checkpoint);
  void finish() { progress_->finish(); }
  // An evaluation's scalars logged at the current step as eval/NAME (nothing for none).
  void log_evaluation(const Scalars& scalars);

  // SFT's and the reward model's loop over `schedule`, the stage's micro-batches `f`, clipping `parameters` and
  // stepping `optimizer` (through dp). Checkpoints hold the epoch, the next micro-batch and the logging window, so a
  // resumed run takes the same steps and logs the same means. Returns the mean loss of the last logging window.
  double run_epochs(const EpochSchedule& schedule, int64_t examples, const StepFunctions& f,
                    const std::vector<torch::Tensor>& parameters, torch::optim::Optimizer& optimizer);

 private:
  const TrainingOptions& t_;
  DataParallel& dp_;
  Checkpointable what_;
  nlohmann::json state_ = nlohmann::json::object();
  int64_t step_ = 0;
  std::optional<MetricsLogger> logger_;
  std::optional<ProgressBar> progress_;
  BadStepGuard guard_;
};

}  // namespace rlhf
