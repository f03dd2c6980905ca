#include "train/options.h"

#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "data/formats.h"
#include "train/memory.h"

namespace rlhf {

void bind_training_options(Options& o, TrainingOptions& t) {
  o.add("output_dir", &t.output_dir, "where the model, checkpoints and metrics go");
  o.add("learning_rate", &t.learning_rate, "peak learning rate (AdamW)");
  o.add("num_train_epochs", &t.num_train_epochs, "passes over the data");
  o.add("per_device_train_batch_size", &t.per_device_train_batch_size, "examples per micro-batch");
  o.add("gradient_accumulation_steps", &t.gradient_accumulation_steps, "micro-batches per optimizer step");
  o.add("max_steps", &t.max_steps, "optimizer steps in all (> 0 overrides the epochs)");
  o.add("max_grad_norm", &t.max_grad_norm, "gradient clipping by global norm (0: off)");
  o.add("warmup_ratio", &t.warmup_ratio, "share of steps with linear warm-up");
  o.add("warmup_steps", &t.warmup_steps, "warm-up steps (wins over warmup_ratio)");
  o.add("lr_scheduler_type", &t.lr_scheduler_type, "cosine | linear | constant");
  o.add("weight_decay", &t.weight_decay, "AdamW weight decay");
  o.add("adam_beta1", &t.adam_beta1, "AdamW beta1");
  o.add("adam_beta2", &t.adam_beta2, "AdamW beta2");
  o.add("adam_epsilon", &t.adam_epsilon, "AdamW epsilon (added after bias correction, PyTorch's form)");
  o.add("optim", &t.optim, "adamw_torch_fused (one kernel per step) | adamw_torch (LibTorch's op-by-op AdamW)");
  o.add("seed", &t.seed, "seed of data order, initialisation and sampling");
  o.add("group_by_length", &t.group_by_length,
        "batch examples of about the same length together (HF's LengthGroupedSampler): less padding, the same data");
  o.add("logging_steps", &t.logging_steps, "log every N steps");
  o.add("save_steps", &t.save_steps, "checkpoint every N steps (0: at epoch ends and on interrupt)");
  o.add("save_total_limit", &t.save_total_limit, "checkpoints kept (and the newest known good one)");
  o.add("save_strategy", &t.save_strategy,
        "steps (every save_steps steps, and at each epoch's end) | epoch | no (an interrupt still writes one)");
  o.add("eval_strategy", &t.eval_strategy,
        "epoch | steps (every eval_steps) | no: when the held-out set is evaluated (HF's default: no)");
  o.add("eval_steps", &t.eval_steps, "with eval_strategy steps: evaluate every N steps (0: logging_steps)");
  o.add("per_device_eval_batch_size", &t.per_device_eval_batch_size, "examples per evaluation batch");
  o.add("dataset_name", &t.dataset_name,
        "TRL's name: a local JSONL or Arrow file, or a folder: datasets' save_to_disk layout, or SPLIT.jsonl (or its "
        "shards) per split; nothing is downloaded");
  o.add("dataset_train_split", &t.dataset_train_split,
        "the split dataset_name's folder trains on (SPLIT.jsonl, or SPLIT/ when saved)");
  o.add("dataset_test_split", &t.dataset_test_split, "the split evaluated when there is no eval_dataset");
  o.add("resume_from_checkpoint", &t.resume_from_checkpoint,
        "true (or alone): continue from output_dir's newest checkpoint | PATH: from that checkpoint folder | false");
  o.allow_alone("resume_from_checkpoint", "true");
  o.add("overwrite_output_dir", &t.overwrite_output_dir,
        "start afresh in an output_dir that holds an earlier run's results (they are removed)");
  o.add("max_length", &t.max_length, "longest sequence in tokens");
  o.add("truncation", &t.truncation, "over-long examples: truncate_left (the prompt) | drop");
  o.add("skip_invalid_lines", &t.skip_invalid_lines, "skip and count malformed JSONL lines instead of failing");
  o.add("device", &t.device, "auto | cpu | cuda | cuda:N");
  o.add("dtype", &t.dtype, "float32 | bfloat16");
  o.add("max_bad_steps", &t.max_bad_steps, "consecutive non-finite steps before the run stops");
  o.add("ddp_timeout", &t.ddp_timeout, "seconds a rank waits for the others before failing (several processes)");
  o.add("ddp_bucket_cap_mb", &t.ddp_bucket_cap_mb, "gradient all-reduce bucket size in MiB");
  o.add("ddp_check_parameters_steps", &t.ddp_check_parameters_steps,
        "compare a parameter checksum across ranks every N steps (0: never)");
  o.add("zero_stage", &t.zero_stage, "0 | 1 (ZeRO-1: AdamW moments sharded across ranks)");
  bind_memory_options(o, t.memory);
  bind_trl_names(o);
}

void validate_training_options(const TrainingOptions& t, const std::string& stage) {
  auto need = [&](bool ok, const std::string& option, const std::string& expected, const std::string& found) {
    if (!ok) fail(stage + ": --" + option, expected, found);
  };
  need(std::isfinite(t.learning_rate) && t.learning_rate >= 0, "learning_rate", "a finite number >= 0",
       std::to_string(t.learning_rate));
  need(t.num_train_epochs >= 0, "num_train_epochs", "0 or more", std::to_string(t.num_train_epochs));
  need(t.per_device_train_batch_size >= 1, "per_device_train_batch_size", "1 or more",
       std::to_string(t.per_device_train_batch_size));
  need(t.gradient_accumulation_steps >= 1, "gradient_accumulation_steps", "1 or more",
       std::to_string(t.gradient_accumulation_steps));
  need(t.logging_steps >= 1, "logging_steps", "1 or more", std::to_string(t.logging_steps));
  need(t.save_steps >= 0, "save_steps", "0 (epoch ends only) or more", std::to_string(t.save_steps));
  need(t.save_strategy == "steps" || t.save_strategy == "epoch" || t.save_strategy == "no", "save_strategy",
       "steps, epoch or no", "'" + t.save_strategy + "'");
  need(t.eval_strategy == "steps" || t.eval_strategy == "epoch" || t.eval_strategy == "no", "eval_strategy",
       "no, steps or epoch", "'" + t.eval_strategy + "'");
  need(t.eval_steps >= 0, "eval_steps", "0 (logging_steps) or more", std::to_string(t.eval_steps));
  need(t.per_device_eval_batch_size >= 1, "per_device_eval_batch_size", "1 or more",
       std::to_string(t.per_device_eval_batch_size));
  need(t.max_length >= 2, "max_length", "2 tokens or more", std::to_string(t.max_length));
  need(std::isfinite(t.max_grad_norm) && t.max_grad_norm >= 0, "max_grad_norm", "a finite number >= 0 (0: off)",
       std::to_string(t.max_grad_norm));
  need(t.warmup_ratio >= 0 && t.warmup_ratio <= 1, "warmup_ratio", "a share from 0 to 1", std::to_string(t.warmup_ratio));
  need(t.warmup_steps >= 0, "warmup_steps", "0 or more", std::to_string(t.warmup_steps));
  need(t.ddp_timeout >= 1, "ddp_timeout", "1 second or more", std::to_string(t.ddp_timeout));
  need(t.ddp_bucket_cap_mb >= 1, "ddp_bucket_cap_mb", "1 MiB or more", std::to_string(t.ddp_bucket_cap_mb));
  need(t.ddp_check_parameters_steps >= 0, "ddp_check_parameters_steps", "0 (never) or more",
       std::to_string(t.ddp_check_parameters_steps));
  need(t.zero_stage == 0 || t.zero_stage == 1, "zero_stage", "0 or 1", std::to_string(t.zero_stage));
  need(t.max_bad_steps >= 1, "max_bad_steps", "1 or more", std::to_string(t.max_bad_steps));
  need(t.lr_scheduler_type == "cosine" || t.lr_scheduler_type == "linear" || t.lr_scheduler_type == "constant",
       "lr_scheduler_type", "cosine, linear or constant", "'" + t.lr_scheduler_type + "'");
  need(t.optim == "adamw_torch_fused" || t.optim == "adamw_torch", "optim", "adamw_torch_fused or adamw_torch",
       "'" + t.optim + "'");
  need(t.dtype == "float32" || t.dtype == "fp32" || t.dtype == "bfloat16" || t.dtype == "bf16", "dtype",
       "float32 or bfloat16 (training has no float16 path)", "'" + t.dtype + "'");
  parse_truncation_policy(t.truncation);
  validate_memory_options(t.memory, t.dtype, stage);
}

bool evaluates_at_step(const TrainingOptions& t, int64_t step) {
  if (t.eval_strategy != "steps") return false;
  const int64_t every = t.eval_steps > 0 ? t.eval_steps : t.logging_steps;
  return step % every == 0;
}

bool evaluates_at_epoch_end(const TrainingOptions& t) { return t.eval_strategy == "epoch"; }

void check_model_fits_tokenizer(const ModelConfig& config, const std::string& model_dir, int64_t tokenizer_vocab_size,
                                const std::string& tokenizer_path, const std::string& stage) {
  if (tokenizer_vocab_size > config.vocab_size)
    fail(stage + ": " + model_dir,
         "an embedding with a row for each of the tokenizer's " + std::to_string(tokenizer_vocab_size) + " ids (" +
             tokenizer_path + ")",
         "vocab_size " + std::to_string(config.vocab_size) + " in config.json (a different model's tokenizer?)");
}

void check_fits_positions(const ModelConfig& config, const std::string& model_dir, size_t longest_sequence,
                          const std::string& stage) {
  if (config.learned_positions && static_cast<int64_t>(longest_sequence) > config.max_position_embeddings)
    fail(stage + ": --max_length",
         "sequences of at most the " + std::to_string(config.max_position_embeddings) + " positions of " + model_dir +
             " (n_positions in config.json)",
         "one of " + std::to_string(longest_sequence) + " tokens (lower --max_length)");
}

void check_some_examples_fit(size_t kept, size_t truncated, size_t dropped, const std::string& dataset,
                             const std::string& limit, const std::string& stage) {
  if (kept > 0 || truncated + dropped == 0) return;
  fail(stage + ": " + dataset, "some examples that fit " + limit,
       "none: all " + std::to_string(truncated + dropped) + " are longer (" + std::to_string(truncated) +
           " would be truncated, " + std::to_string(dropped) + " dropped); raise --max_length");
}

}  // namespace rlhf
