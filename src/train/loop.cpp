#include "train/loop.h"

#include <ATen/autocast_mode.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>  // renameat2, RENAME_EXCHANGE (glibc, _GNU_SOURCE)
#include <fcntl.h>  // AT_FDCWD
#include <filesystem>
#include <random>

#include "common/error.h"
#include "common/files.h"
#include "data/formats.h"
#include "io/formats/safetensors.h"
#include "model/cpu_linear.h"
#include "train/fused_adamw.h"
#include "train/memory.h"

namespace rlhf {

namespace fs = std::filesystem;
using json = nlohmann::json;

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
  o.add("logging_steps", &t.logging_steps, "log every N steps");
  o.add("save_steps", &t.save_steps, "checkpoint every N steps (0: at epoch ends and on interrupt)");
  o.add("save_total_limit", &t.save_total_limit, "checkpoints kept");
  o.add("resume_from_checkpoint", &t.resume_from_checkpoint, "continue from output_dir's latest checkpoint");
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
  if (config.is_gpt2() && static_cast<int64_t>(longest_sequence) > config.max_position_embeddings)
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

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

namespace {

std::atomic<bool> g_interrupted{false};
void on_signal(int) { g_interrupted.store(true); }

std::string checkpoints_dir(const std::string& output_dir) { return output_dir + "/checkpoints"; }

// The step-N folders under `root`, newest first. Only complete checkpoints have such a name: one is written as
// .tmp-step-N and renamed into place.
std::vector<std::pair<int64_t, std::string>> checkpoint_folders(const std::string& root) {
  std::vector<std::pair<int64_t, std::string>> folders;
  if (!file_exists(root)) return folders;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string n = entry.path().filename().string();
    if (!entry.is_directory() || n.rfind("step-", 0) != 0 || n.size() == 5 ||
        n.find_first_not_of("0123456789", 5) != std::string::npos || n.size() > 20)
      continue;
    folders.emplace_back(std::stoll(n.substr(5)), entry.path().string());
  }
  std::sort(folders.rbegin(), folders.rend());
  return folders;
}

}  // namespace

std::optional<std::string> newest_checkpoint(const std::string& output_dir) {
  // The newest folder, not what `latest` names: a process killed after the rename and before `latest` was replaced
  // left a complete checkpoint that `latest` does not name yet (seen in CI: a resume that started over).
  const auto folders = checkpoint_folders(checkpoints_dir(output_dir));
  if (folders.empty()) return std::nullopt;
  return folders.front().second;
}

namespace {

// Tensors are saved as fp32 (or their own dtype) contiguous CPU copies; `keep` holds the copies alive until written.
void add_tensor(std::vector<TensorBytes>& out, std::vector<torch::Tensor>& keep, const std::string& name,
                const torch::Tensor& t) {
  auto cpu = t.detach().to(torch::kCPU).contiguous();
  DType dtype = cpu.scalar_type() == torch::kFloat32 ? DType::F32
                : cpu.scalar_type() == torch::kUInt8  ? DType::U8
                : cpu.scalar_type() == torch::kLong   ? DType::I64
                                                      : (cpu = cpu.to(torch::kFloat32), DType::F32);
  keep.push_back(cpu);
  out.push_back({name, dtype, cpu.sizes().vec(), cpu.data_ptr(), static_cast<size_t>(cpu.numel() * cpu.element_size())});
}

torch::Tensor read_tensor(const SafetensorsFile& file, const std::string& name) {
  const auto& info = file.at(name);
  auto dtype = info.dtype == DType::F32 ? torch::kFloat32 : info.dtype == DType::U8 ? torch::kUInt8 : torch::kLong;
  return torch::from_blob(const_cast<unsigned char*>(file.data(info)), info.shape, dtype).clone();
}

}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupt_requested() { return g_interrupted.load(); }

namespace {

// The three files of a checkpoint, written into `folder`.
void write_checkpoint_files(const std::string& folder, int64_t step, const Checkpointable& what, const json& state) {
  std::vector<TensorBytes> tensors;
  std::vector<torch::Tensor> alive;
  for (const auto& [prefix, module] : what.modules)
    for (const auto& p : module->named_parameters()) add_tensor(tensors, alive, prefix + "/" + p.key(), p.value());
  write_safetensors(folder + "/modules.safetensors", tensors);
  tensors.clear(), alive.clear();
  json optimizer_steps = json::object();
  for (const auto& [prefix, optimizer] : what.optimizers) {
    int64_t index = 0;
    for (auto& group : optimizer->param_groups()) {
      for (auto& p : group.params()) {
        auto it = optimizer->state().find(p.unsafeGetTensorImpl());
        const std::string key = prefix + "/" + std::to_string(index++);
        if (it == optimizer->state().end()) continue;
        auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
        add_tensor(tensors, alive, key + "/exp_avg", s.exp_avg());
        add_tensor(tensors, alive, key + "/exp_avg_sq", s.exp_avg_sq());
        optimizer_steps[key] = s.step();
      }
    }
  }
  for (const auto& [prefix, generator] : what.generators)
    add_tensor(tensors, alive, "generator/" + prefix, generator->get_state());
  write_safetensors(folder + "/optimizers.safetensors", tensors);
  json full = state;
  full["step"] = step;
  full["optimizer_steps"] = optimizer_steps;
  write_file_atomic(folder + "/state.json", full.dump(2));
}

// "a, b, c" for an error message.
std::string key_list(const json& object) {
  std::string keys;
  for (const auto& item : object.items()) keys += (keys.empty() ? "" : ", ") + item.key();
  return keys.empty() ? "none" : keys;
}

}  // namespace

void save_checkpoint(const std::string& output_dir, int64_t step, const Checkpointable& what, const json& state,
                     int64_t keep) {
  const std::string root = checkpoints_dir(output_dir), name = "step-" + std::to_string(step);
  const std::string temp = root + "/.tmp-" + name, final_dir = root + "/" + name;
  remove_tree(temp);
  make_dirs(temp);
  try {
    write_checkpoint_files(temp, step, what, state);
  } catch (const Error&) {
    remove_tree(temp);  // a full disk: free what was written; `latest` still names the previous checkpoint
    throw;
  }
  std::error_code ec;
  if (file_exists(final_dir)) {
    // Saved again at the same step (an epoch that ends right after a save_steps checkpoint): swap the two folders in one
    // atomic rename, so that `latest` never names a missing folder, whenever the process dies.
    if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) != 0) {
      remove_tree(final_dir);  // a filesystem without RENAME_EXCHANGE: the old, short window
      fs::rename(temp, final_dir, ec);
    }
    remove_tree(temp);
  } else {
    fs::rename(temp, final_dir, ec);
  }
  if (ec) fail(final_dir, "a checkpoint folder renamed into place", ec.message());
  write_file_atomic(root + "/latest", name + "\n");
  // Keep the newest `keep` checkpoints (by step); folders named otherwise are not ours to remove.
  const auto existing = checkpoint_folders(root);
  for (size_t i = static_cast<size_t>(std::max<int64_t>(keep, 1)); i < existing.size(); ++i)
    remove_tree(existing[i].second);
}


std::optional<json> load_latest_checkpoint(const std::string& output_dir, const Checkpointable& what,
                                           const std::vector<std::string>& required) {
  const std::optional<std::string> newest = newest_checkpoint(output_dir);
  if (!newest) return std::nullopt;
  const std::string dir = *newest, state_path = dir + "/state.json";
  json state;
  try {
    state = json::parse(read_file(state_path));
  } catch (const json::exception& e) {
    fail(state_path, "valid JSON", e.what());
  }
  // Checked before anything is read, so that a hand-edited or truncated state.json names its missing key instead of
  // nlohmann's "type must be number, but is null" (and a missing optimizer_steps does not silently drop AdamW's moments).
  if (!state.is_object()) fail(state_path, "a JSON object", state.type_name());
  std::vector<std::string> keys = {"step"};
  keys.insert(keys.end(), required.begin(), required.end());
  for (const auto& key : keys)
    if (!state.contains(key)) fail(state_path, "the key \"" + key + "\"", "none (the keys are " + key_list(state) + ")");
  for (const auto& [key, value] : state.items())  // everything the trainers save there, optional keys too, is a number
    if (key != "optimizer_steps" && !value.is_number())
      fail(state_path, "a number under \"" + key + "\"", value.dump());
  if (!state.contains("optimizer_steps") || !state["optimizer_steps"].is_object())
    fail(state_path, "an object under \"optimizer_steps\"",
         state.contains("optimizer_steps") ? state["optimizer_steps"].dump() : "no such key");
  for (const auto& [key, value] : state["optimizer_steps"].items())
    if (!value.is_number_integer()) fail(state_path, "integer optimizer_steps", key + ": " + value.dump());
  SafetensorsFile modules(dir + "/modules.safetensors");
  torch::NoGradGuard no_grad;
  for (const auto& [prefix, module] : what.modules)
    for (auto& p : module->named_parameters()) p.value().copy_(read_tensor(modules, prefix + "/" + p.key()));
  SafetensorsFile optimizers(dir + "/optimizers.safetensors");
  for (const auto& [prefix, optimizer] : what.optimizers) {
    int64_t index = 0;
    for (auto& group : optimizer->param_groups()) {
      for (auto& p : group.params()) {
        const std::string key = prefix + "/" + std::to_string(index++);
        if (!state["optimizer_steps"].contains(key)) continue;
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->step(state["optimizer_steps"][key].get<int64_t>());
        s->exp_avg(read_tensor(optimizers, key + "/exp_avg").to(p.device(), p.scalar_type()));
        s->exp_avg_sq(read_tensor(optimizers, key + "/exp_avg_sq").to(p.device(), p.scalar_type()));
        optimizer->state()[p.unsafeGetTensorImpl()] = std::move(s);
      }
    }
  }
  for (const auto& [prefix, generator] : what.generators) {
    const auto saved = read_tensor(optimizers, "generator/" + prefix);
    try {
      generator->set_state(saved);
    } catch (const c10::Error&) {
      // The state's layout is the device's: a CPU generator's is 5,056 bytes, a CUDA one's 16 (PPO samples on its
      // device, src/model/device.h), so a run checkpointed on one kind of device resumes only on that kind.
      fail(dir + "/optimizers.safetensors",
           "the state of a " + c10::DeviceTypeName(generator->device().type(), true) +
               " random generator under generator/" + prefix + " (a run resumes on the kind of device it was "
               "checkpointed on)",
           std::to_string(saved.numel()) + " bytes");
    }
  }
  std::fprintf(stderr, "resumed from %s (step %lld)\n", dir.c_str(), static_cast<long long>(state["step"].get<int64_t>()));
  return state;
}

std::vector<size_t> epoch_order(size_t n, int64_t seed, int64_t epoch) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 1000003ull + static_cast<uint64_t>(epoch));
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng() % i]);  // Fisher–Yates, portable
  return order;
}

void copy_tokenizer_files(const std::string& from, const std::string& to) {
  if (from == to) return;
  make_dirs(to);
  if (fs::is_regular_file(from)) {  // a tokenizer given as one file (tokenizer.json, tokenizer.model)
    write_file_atomic(to + "/" + fs::path(from).filename().string(), read_file(from));
    return;
  }
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "tokenizer.model",
                           "special_tokens_map.json", "generation_config.json", "chat_template.jinja"}) {
    const std::string source = from + "/" + name;
    if (file_exists(source)) write_file_atomic(to + "/" + name, read_file(source));
  }
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
    return true;
  }
  ++skipped_, ++in_a_row_;
  if (in_a_row_ >= limit_) {
    // Skipped steps never reach the weights, so the newest checkpoint holds finite weights: name it.
    std::string last_good = "no checkpoint was written yet";
    if (const auto newest = newest_checkpoint(output_dir))
      last_good = "the last good checkpoint is " + *newest +
                  " (--resume_from_checkpoint true continues from it; lower --learning_rate first)";
    fail("training stopped at step " + std::to_string(step) + ": " + std::to_string(in_a_row_) +
         " steps in a row with a non-finite loss or gradient norm (last loss " + std::to_string(loss) +
         ", gradient norm " + std::to_string(grad_norm) + "); " + last_good);
  }
  return false;
}

}  // namespace rlhf
