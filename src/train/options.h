// The options every trainer has (TRL / HF Trainer names), bound to --name flags and YAML keys, and the checks a run
// makes before it loads anything (option values no run can start with) or trains (a model that cannot hold the
// tokenizer's ids or the run's longest sequence, a dataset none of whose examples fits).
#pragma once
#include <cstdint>
#include <string>

#include "common/options.h"
#include "data/dataset_name.h"
#include "model/config.h"

namespace rlhf {

// The memory features (train/memory.h applies them), with the names TRL / PEFT / HF Trainer users know.
struct MemoryOptions {
  bool use_peft = false;              // LoRA adapters on a frozen base (TRL's ModelConfig.use_peft)
  int64_t lora_r = 16;                // TRL's defaults: r 16, alpha 32, dropout 0.05
  double lora_alpha = 32;
  double lora_dropout = 0.05;
  std::string lora_target_modules;    // comma-separated HF module names, "all-linear", or "" (PEFT's default per family)
  bool gradient_checkpointing = false;
  std::string frozen_dtype = "auto";  // auto (= --dtype) | float32 | bfloat16: how frozen weights are held
};

struct TrainingOptions {
  std::string output_dir;
  double learning_rate = 1e-5;
  int64_t num_train_epochs = 1;
  int64_t per_device_train_batch_size = 8;
  int64_t gradient_accumulation_steps = 1;
  int64_t max_steps = -1;           // > 0 overrides the epochs
  double max_grad_norm = 1.0;       // 0: no clipping
  double warmup_ratio = 0.0;
  int64_t warmup_steps = 0;         // wins over warmup_ratio when > 0
  std::string lr_scheduler_type = "cosine";  // cosine | linear | constant
  double weight_decay = 0.0;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  std::string optim = "adamw_torch_fused";  // adamw_torch_fused (one kernel per step) | adamw_torch (op by op); HF's names
  int64_t seed = 42;
  // HF's group_by_length: each epoch's shuffled order is cut into megabatches of 50 global batches, each sorted by
  // length, so a batch holds examples of about one length and pads little (random batches of SFT demonstrations pad to
  // 1.8x their tokens). The order of the megabatches and of the examples in them still follows the seed.
  bool group_by_length = false;
  int64_t logging_steps = 10;
  int64_t save_steps = 0;           // 0: checkpoint only at the end of each epoch and on interrupt
  int64_t save_total_limit = 2;
  // When checkpoints are written (HF's names): steps (every save_steps steps > 0, and at each epoch's end) | epoch (at
  // each epoch's end) | no (none; an interrupt still writes one, so that the run can be resumed).
  std::string save_strategy = "steps";
  // When the held-out set is evaluated (HF's names; logged as eval/NAME): epoch (at each epoch's end) | steps (every
  // eval_steps steps; 0: logging_steps, as HF) | no. Our default is epoch where HF's is no: a held-out set given is used.
  std::string eval_strategy = "epoch";
  int64_t eval_steps = 0;
  int64_t per_device_eval_batch_size = 8;
  // TRL's dataset_name (a local file, or a folder of JSONL files or in save_to_disk's layout; data/dataset_name.h resolves
  // it) and the folder's splits.
  std::string dataset_name;
  std::string dataset_train_split = "train", dataset_test_split = "test";
  // "" or false: a fresh start; true: output_dir's newest checkpoint; else a checkpoint folder (OUT/checkpoints/step-N
  // of this run or another). train/loop.h's checkpoint_to_resume reads it.
  std::string resume_from_checkpoint;
  bool overwrite_output_dir = false;  // a fresh run into a folder that holds an earlier run's results replaces them
  int64_t max_length = 512;
  std::string truncation = "truncate_left";  // truncate_left | drop
  bool skip_invalid_lines = false;
  std::string device = "auto";      // auto | cpu | cuda | cuda:N
  std::string dtype = "float32";    // float32 | bfloat16 (weights stay fp32 where training; bf16 autocast on CUDA)
  int64_t max_bad_steps = 10;       // consecutive non-finite losses before the run stops
  // Data parallel (train/distributed.h; only read when a launcher started several processes).
  int64_t ddp_timeout = 1800;       // seconds a collective waits for the other ranks (HF's name and default)
  int64_t ddp_bucket_cap_mb = 25;   // gradient all-reduce bucket size (PyTorch DDP's default)
  int64_t ddp_check_parameters_steps = 100;  // compare a parameter checksum across ranks every N steps (0: never)
  int64_t zero_stage = 0;           // 1: ZeRO-1, each rank keeps the AdamW moments of its slice of the parameters
  MemoryOptions memory;             // LoRA, gradient checkpointing, bf16 frozen weights (train/memory.h)
  // Not an option: the command line's options as JSON (the CLI sets it), which StepLoop writes to
  // OUTPUT/training_args.json once the run has started; empty: none written.
  std::string training_args;
};

void bind_training_options(Options& options, TrainingOptions& t);
// TRL's and HF's keys that we honour under our names (dataset_name, bf16, torch_dtype) or accept with a note on
// stderr saying why they change nothing (hub uploads, report_to none/tensorboard, loader workers).
void bind_trl_names(Options& o);
// The keys of one TRL config class (SFTConfig, RewardConfig, PPOConfig) that the stage's own options do not hold: each
// honoured (mapped onto our options) or accepted with a note (train/trl_keys.cpp has the table and the reasons).
void bind_trl_sft_names(Options& o);
void bind_trl_reward_names(Options& o);
void bind_trl_ppo_names(Options& o);

// What a TRL config names that is resolved when a stage starts: dtype auto (TRL's "the checkpoint's dtype") as float32,
// the dtype training holds its weights in; the files a stage reads (data/dataset_name.h): `train` from t.dataset_name
// or `dataset` (an error when both are given; a folder resolved as dataset_name is, a file is itself), `test` from
// `eval_dataset` (a folder: its dataset_test_split) or, when none is given, from the folder's test split. `dataset` is
// set to the dataset's name, and `eval_dataset` to the test files (describe_files) when they came from the folder, for
// messages. Empty lists when there is no dataset (the stage says it is required).
DatasetFiles resolve_trl_options(TrainingOptions& t, std::string& dataset, std::string* eval_dataset,
                                 const std::string& stage);

// Whether a step ends an evaluation interval (eval_strategy steps) or a checkpoint interval (save_strategy steps).
bool evaluates_at_step(const TrainingOptions& t, int64_t step);
bool evaluates_at_epoch_end(const TrainingOptions& t);

// Values no run can start with (a batch size, accumulation or logging interval of 0, a max_length with no room for a
// token, a negative or non-finite learning rate, ...): an rlhf::Error "STAGE: --option: expected ..., found ..." before
// anything is loaded. Values that are merely unusual (learning_rate 1e30) pass.
void validate_training_options(const TrainingOptions& t, const std::string& stage);

// Mismatches between a model and the tokenizer it is trained with, caught before training: a vocabulary with more ids
// than the model has embedding rows (an index error mid-run otherwise). `model_dir` and `tokenizer_path` name both.
void check_model_fits_tokenizer(const ModelConfig& config, const std::string& model_dir, int64_t tokenizer_vocab_size,
                                const std::string& tokenizer_path, const std::string& stage);
// GPT-2 looks positions up in a table of max_position_embeddings rows: the longest sequence the run will build (after
// truncation to --max_length) must fit it (rotary models have no such table).
void check_fits_positions(const ModelConfig& config, const std::string& model_dir, size_t longest_sequence,
                          const std::string& stage);

// A dataset none of whose examples fits max_length as written (every one truncated or dropped) is a mistake in the
// options or the data, not something to train on: an error naming the dataset, max_length and the counts.
// `limit` says what they must fit, e.g. "--max_length 48 tokens".
void check_some_examples_fit(size_t kept, size_t truncated, size_t dropped, const std::string& dataset,
                             const std::string& limit, const std::string& stage);

}  // namespace rlhf
