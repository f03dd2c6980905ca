// The keys a TRL user writes (HF TrainingArguments, TRL's ModelConfig and ScriptArguments, SFTConfig, RewardConfig,
// PPOConfig) that are no field of ours under that name: each is mapped onto our options, or accepted with one line on
// stderr saying why it changes nothing here, or (a value that would change training in a way rlhf cannot) refused with
// a clear error. Keys none of these classes has stay unknown (common/options.h's did-you-mean).
// tests/python/test_trl_configs.py walks the real key lists (transformers' TrainingArguments from the venv, TRL's from
// tests/python/data/trl_config_keys.json) and checks that each is accepted by rlhf sft|rm|ppo --config.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <initializer_list>
#include <string>

#include "common/error.h"
#include "data/dataset_name.h"
#include "data/dataset_rows.h"
#include "train/options.h"

namespace rlhf {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// Values that ask for nothing: HF's None, False, 0, an empty list or mapping.
bool asks_for_nothing(const std::string& value) {
  const std::string v = lower(value);
  return v.empty() || v == "false" || v == "0" || v == "0.0" || v == "none" || v == "null" || v == "~" || v == "[]" ||
         v == "{}" || v == "\"\"" || v == "''";
}

void notes(Options& o, std::initializer_list<const char*> names, const std::string& why) {
  for (const char* name : names) o.ignore(name, why);
}

// Accepted with a note while its value asks for nothing (or is one of `harmless`); any other value is an error, since
// training without what it asks for would silently differ from TRL's run.
void refuse_unless_unset(Options& o, const std::string& name, const std::string& why,
                         std::initializer_list<const char*> harmless = {}) {
  std::vector<std::string> allowed;
  for (const char* h : harmless) allowed.push_back(h);
  o.add_handler(
      name,
      [&o, name, why, allowed](const std::string& value, const std::string& where) {
        const bool fine = asks_for_nothing(value) ||
                          std::find(allowed.begin(), allowed.end(), lower(value)) != allowed.end();
        if (!fine) fail(where, "'" + name + "' unset here (" + why + ")", "'" + value + "'");
        o.notice(name, why, where);
      },
      "accepted unset: " + why);
}

void alias(Options& o, const std::string& name, const std::string& ours, const std::string& help) {
  o.add_handler(name, [&o, ours](const std::string& value, const std::string& where) { o.set(ours, value, where); },
                help);
}

const char* const kNoLoaderProcesses = "examples are tokenized in memory before training, with no loader processes";
const char* const kNoNetwork = "nothing is uploaded or tracked online (rlhf makes no network calls)";
const char* const kOwnParallelism =
    "data parallelism is rlhf's own (several processes started by torchrun or the pipeline; --zero_stage 1 shards "
    "AdamW's moments)";

}  // namespace

void bind_trl_names(Options& o) {
  // ---- Honoured under our names.
  o.add_handler(
      "bf16", [&o](const std::string& value, const std::string& where) {
        if (!asks_for_nothing(value)) o.set("dtype", "bfloat16", where);
      },
      "true: --dtype bfloat16");
  o.add_handler(
      "fp16", [](const std::string& value, const std::string& where) {
        if (!asks_for_nothing(value))
          fail(where, "fp16 false (training has no float16 path: float32 or bfloat16)", "'" + value + "'; use bf16");
      },
      "false only: training has no float16 path (bf16: true instead)");
  o.add_handler(
      "torch_dtype", [&o](const std::string& value, const std::string& where) {
        if (value != "auto" && !asks_for_nothing(value)) o.set("dtype", value, where);
      },
      "float32 | bfloat16 | auto (keeps --dtype)");
  o.add_handler(
      "report_to", [&o](const std::string& value, const std::string& where) {
        if (value.find("wandb") != std::string::npos)
          fail(where, "report_to none or tensorboard (rlhf makes no network calls)",
               "'" + value + "': run `wandb sync --sync-tensorboard OUTPUT_DIR` on the event files afterwards");
        o.notice("report_to", "metrics.jsonl and TensorBoard event files are always written to output_dir", where);
      },
      "none | tensorboard: metrics.jsonl and TensorBoard files are always written");
  for (const char* cpu : {"use_cpu", "no_cuda"})
    o.add_handler(
        cpu, [&o](const std::string& value, const std::string& where) {
          if (!asks_for_nothing(value)) o.set("device", "cpu", where);
        },
        "true: --device cpu");
  alias(o, "per_gpu_train_batch_size", "per_device_train_batch_size", "HF's old name for per_device_train_batch_size");
  alias(o, "per_gpu_eval_batch_size", "per_device_eval_batch_size", "HF's old name for per_device_eval_batch_size");
  alias(o, "disable_tqdm", "quiet", "true: no progress bar (--quiet)");
  o.add_handler(
      "logging_strategy", [&o](const std::string& value, const std::string& where) {
        if (value != "steps") o.notice("logging_strategy", "rlhf logs every logging_steps steps", where);
      },
      "steps (rlhf logs every logging_steps steps)");

  // ---- Accepted, with a note: nothing to act on here.
  notes(o, {"push_to_hub", "hub_model_id", "hub_strategy", "hub_token", "hub_private_repo", "hub_always_push",
            "hub_revision", "push_to_hub_model_id", "push_to_hub_organization", "push_to_hub_token", "project",
            "trackio_space_id"},
        kNoNetwork);
  o.ignore("run_name", "a run is named by its output_dir");
  o.ignore("logging_dir", "TensorBoard event files go to output_dir");
  notes(o, {"dataloader_num_workers", "dataloader_prefetch_factor", "dataloader_pin_memory",
            "dataloader_persistent_workers", "dataset_num_proc"},
        kNoLoaderProcesses);
  o.ignore("dataloader_drop_last", "an epoch's last, incomplete optimizer step is always dropped");
  o.ignore("remove_unused_columns", "each stage reads only its own fields");
  o.ignore("do_train", "rlhf sft|rm|ppo always train");
  o.ignore("do_eval", "evaluation follows eval_strategy");
  o.ignore("do_predict", "there is no prediction pass (rlhf generate / rlhf eval run a trained model)");
  notes(o, {"prediction_loss_only", "eval_accumulation_steps", "eval_do_concat_batches", "batch_eval_metrics",
            "eval_use_gather_object", "include_inputs_for_metrics", "include_for_metrics", "label_names"},
        "evaluation computes the loss and TRL's metrics (eval/loss, eval/mean_token_accuracy, eval/accuracy), summed "
        "batch by batch; there is no compute_metrics hook");
  o.ignore("eval_delay", "evaluation follows eval_strategy from the first step");
  o.ignore("eval_on_start", "evaluation follows eval_strategy (nothing is evaluated before the first step)");
  notes(o, {"log_level", "log_level_replica", "log_on_each_node"},
        "rank 0 prints one progress line and the notes; other ranks are silent");
  o.ignore("logging_first_step", "the first line is logged at step logging_steps");
  o.ignore("logging_nan_inf_filter",
           "a step with a non-finite loss or gradient is skipped and counted in skipped_steps (--max_bad_steps in a "
           "row stop the run)");
  o.ignore("save_safetensors", "checkpoints and models are always safetensors (nothing pickled is written)");
  o.ignore("save_on_each_node", "rank 0 writes the checkpoints");
  o.ignore("save_only_model", "a checkpoint always holds the optimizer state too (a resume needs it)");
  o.ignore("restore_callback_states_from_checkpoint", "there are no callbacks");
  o.ignore("use_mps_device", "no MPS backend: --device auto | cpu | cuda");
  o.ignore("data_seed", "the data order follows seed");
  o.ignore("full_determinism", "seed fixes the data order, initialisation and sampling");
  o.ignore("jit_mode_eval", "no TorchScript: the model is rlhf's own C++");
  notes(o, {"fp16_opt_level", "half_precision_backend", "fp16_backend"}, "training has no float16 path");
  notes(o, {"bf16_full_eval", "fp16_full_eval"}, "evaluation runs in the training dtype");
  o.ignore("tf32", "matrix products keep LibTorch's default precision");
  o.ignore("local_rank", "ranks come from the launcher's environment (RANK, WORLD_SIZE, MASTER_ADDR: torchrun's)");
  notes(o, {"ddp_backend", "ddp_find_unused_parameters", "ddp_broadcast_buffers", "fsdp", "fsdp_min_num_params",
            "fsdp_config", "fsdp_transformer_layer_cls_to_wrap", "accelerator_config", "parallelism_config",
            "deepspeed", "mp_parameters", "average_tokens_across_devices"},
        kOwnParallelism);
  notes(o, {"tpu_num_cores", "tpu_metrics_debug"}, "no TPU backend");
  o.ignore("debug", "no debug modes (underflow_overflow: the non-finite guard stops a run)");
  o.ignore("past_index", "no model here keeps past states between batches");
  notes(o, {"load_best_model_at_end", "metric_for_best_model", "greater_is_better"},
        "the final model is the last step's (sft also keeps each epoch's as OUTPUT/epoch-N)");
  o.ignore("ignore_data_skip", "a resumed run always continues where its checkpoint was in the data");
  o.ignore("length_column_name", "--group_by_length measures each example's tokens itself");
  o.ignore("skip_memory_metrics", "no memory metrics are logged during training");
  o.ignore("use_legacy_prediction_loop", "there is no prediction loop");
  notes(o, {"gradient_checkpointing_kwargs", "gradient_checkpointing_use_reentrant"},
        "gradient checkpointing recomputes each block in its own backward (no reentrant variant)");
  o.ignore("auto_find_batch_size", "the batch size is per_device_train_batch_size (lower it, or use "
                                   "gradient_accumulation_steps, when memory runs out)");
  notes(o, {"torchdynamo", "torch_compile", "torch_compile_backend", "torch_compile_mode"},
        "no torch.compile in LibTorch: the kernels are chosen at build and start-up");
  o.ignore("ray_scope", "no hyperparameter search");
  notes(o, {"include_tokens_per_second", "include_num_input_tokens_seen"}, "num_tokens is always logged");
  o.ignore("torch_empty_cache_steps", "LibTorch's caching allocator is left to itself");
  notes(o, {"use_liger_kernel", "liger_kernel_config"}, "no Triton kernels");
  o.ignore("lr_scheduler_kwargs", "cosine, linear and constant take no further parameters here");
  o.ignore("optim_args", "AdamW's settings are adam_beta1, adam_beta2, adam_epsilon and weight_decay");
  o.ignore("optim_target_modules", "AdamW trains every trainable parameter");
  // ---- Refused when set: training without them would differ from the run the config describes.
  refuse_unless_unset(o, "label_smoothing_factor", "no label smoothing: the loss is plain cross-entropy");
  refuse_unless_unset(o, "neftune_noise_alpha", "no NEFTune noise on the embeddings");
  refuse_unless_unset(o, "adafactor", "the optimizer is AdamW");

  // TRL's ScriptArguments (dataset_name and its splits are fields: train/options.h).
  o.ignore("dataset_config", "a local folder has no Hub configurations (its files are the splits)");
  o.ignore("dataset_streaming", "the dataset is read into memory");
  o.ignore("ignore_bias_buffers", "no model here has boolean bias buffers to ignore");

  // TRL's ModelConfig (use_peft, lora_r/alpha/dropout/target_modules and gradient_checkpointing are fields).
  o.ignore("model_revision", "a local model directory has no revisions");
  o.ignore("trust_remote_code", "no model code is run: the architecture comes from config.json");
  notes(o, {"attn_implementation", "use_flash_attention_2"}, "attention is rlhf's own kernel");
  o.ignore("lora_task_type", "the stage picks it (CAUSAL_LM for sft and the PPO policy, SEQ_CLS for the reward model)");
  o.ignore("lora_modules_to_save", "with use_peft the reward model's score head trains beside the adapters; other "
                                   "modules stay frozen");
  refuse_unless_unset(o, "lora_target_parameters", "LoRA targets modules (lora_target_modules), not parameters");
  refuse_unless_unset(o, "use_rslora", "LoRA scales by alpha / r");
  refuse_unless_unset(o, "use_dora", "LoRA only, no DoRA");
  refuse_unless_unset(o, "load_in_8bit", "no quantized training: weights are float32 or bfloat16 (frozen_dtype)");
  refuse_unless_unset(o, "load_in_4bit", "no quantized training: weights are float32 or bfloat16 (frozen_dtype)");
  notes(o, {"bnb_4bit_quant_type", "use_bnb_nested_quant", "bnb_4bit_quant_storage", "base_model_revision",
            "model_code_revision"},
        "no bitsandbytes quantization or revisions here");
}

void bind_trl_sft_names(Options& o) {
  alias(o, "max_seq_length", "max_length", "TRL's old name for max_length");
  o.ignore("model_init_kwargs", "the model is read as config.json describes it");
  o.ignore("chat_template_path", "the chat template is the model's (tokenizer_config.json) with --prompt_format chat");
  o.add_handler(
      "dataset_text_field", [&o](const std::string& value, const std::string& where) {
        if (value != "text" && !asks_for_nothing(value))
          fail(where, "dataset_text_field text (rlhf reads {\"text\"} lines for language modelling)", "'" + value + "'");
        o.notice("dataset_text_field", "language-modelling lines are read from their 'text' field", where);
      },
      "text only");
  o.ignore("dataset_kwargs", "examples are read as docs/data-formats.md describes");
  o.ignore("eos_token", "the end-of-response token is the tokenizer's eos_token (or the chat format's end of turn)");
  o.ignore("pad_token", "padding uses the tokenizer's pad token, else its EOS");
  o.ignore("truncation_mode", "over-long examples follow --truncation (truncate_left cuts the prompt's start)");
  o.ignore("shuffle_dataset", "each epoch is shuffled with seed");
  o.ignore("padding_free", "packing_strategy bfd keeps packed examples apart as padding-free batches do; unpacked "
                           "batches are padded to their longest");
  o.ignore("pad_to_multiple_of", "batches are padded to their longest sequence");
  o.ignore("eval_packing", "the evaluation set is never packed");
  refuse_unless_unset(o, "loss_type", "the loss is the mean negative log-likelihood (nll)", {"nll", "chunked_nll"});
  o.ignore("activation_offloading", "activations stay on the device (gradient_checkpointing saves their memory)");
}

void bind_trl_reward_names(Options& o) {
  o.ignore("model_init_kwargs", "the model is read as config.json describes it");
  o.ignore("chat_template_path", "the chat template is the model's (tokenizer_config.json) with --prompt_format chat");
  o.ignore("disable_dropout", "the models here have no dropout (LoRA's aside)");
  o.ignore("eos_token", "the tokenizer's eos_token");
  o.ignore("pad_token", "padding uses the tokenizer's pad token, else its EOS");
  o.ignore("pad_to_multiple_of", "batches are padded to their longest sequence");
  o.ignore("activation_offloading", "activations stay on the device (gradient_checkpointing saves their memory)");
  refuse_unless_unset(o, "center_rewards_coefficient",
                      "no reward-centring term; rewards are shifted so that demonstrations score 0 (normalize_dataset)");
}

void bind_trl_ppo_names(Options& o) {
  o.ignore("exp_name", "a run is named by its output_dir");
  notes(o, {"model_adapter_name", "ref_adapter_name"},
        "with use_peft the reference is the policy's base with its one adapter disabled");
  o.ignore("vf_coef", "the value model has its own AdamW (value_learning_rate), whose step does not depend on a scale "
                      "of its loss");
  o.ignore("ds3_gather_for_generation", kOwnParallelism);
  o.ignore("num_sample_generations", "no sample completions are printed during training");
  o.add_handler(
      "stop_token", [&o](const std::string& value, const std::string& where) {
        if (value != "eos" && !asks_for_nothing(value))
          fail(where, "stop_token eos or unset (responses end at the end-of-response token)", "'" + value + "'");
        o.notice("stop_token", "responses always end at the end-of-response token", where);
      },
      "eos: responses end at the end-of-response token");
  o.ignore("stop_token_id", "responses end at the prompt format's end-of-response token");
  alias(o, "local_rollout_forward_batch_size", "generation_batch_size",
        "TRL's name for generation_batch_size (episodes per no-grad rollout forward)");
  notes(o, {"world_size", "num_total_batches", "micro_batch_size", "local_batch_size", "batch_size",
            "local_mini_batch_size", "mini_batch_size"},
        "computed at run time, as TRL does: episodes per iteration = per_device_train_batch_size x "
        "gradient_accumulation_steps x num_mini_batches (per rank)");
}

DatasetFiles resolve_trl_options(TrainingOptions& t, std::string& dataset, std::string* eval_dataset,
                                 const std::string& stage) {
  if (t.dtype == "auto") t.dtype = "float32";
  if (!t.dataset_name.empty()) {
    if (!dataset.empty() && dataset != t.dataset_name)
      fail(stage + ": --dataset_name", "either dataset or dataset_name", "both ('" + dataset + "' and '" +
                                                                             t.dataset_name + "')");
    dataset = t.dataset_name;
  }
  DatasetFiles files;
  std::error_code error;
  if (!t.dataset_name.empty() || std::filesystem::is_directory(dataset, error)) {
    files = resolve_dataset_name(dataset, t.dataset_train_split, t.dataset_test_split);
  } else if (!dataset.empty()) {
    files.train = {dataset};  // a file (its reader reports one that is missing)
  }
  if (eval_dataset && !eval_dataset->empty()) {
    files.test = split_files(*eval_dataset, t.dataset_test_split);
  } else if (eval_dataset && !files.test.empty()) {
    *eval_dataset = describe_files(files.test);
  } else {
    files.test.clear();  // a stage without evaluation data
  }
  return files;
}

}  // namespace rlhf
