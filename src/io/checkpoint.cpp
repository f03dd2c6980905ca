#include "io/checkpoint.h"

#include <algorithm>
#include <cstdio>  // renameat2, RENAME_EXCHANGE (glibc, _GNU_SOURCE)
#include <fcntl.h>  // AT_FDCWD
#include <filesystem>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "io/checkpoint_state.h"
#include "io/formats/safetensors.h"
#include "io/model_dir.h"

namespace rlhf {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

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

std::optional<std::string> newest_checkpoint(const std::string& output_dir, int64_t before_step) {
  // The newest folder, not what `latest` names: a process killed after the rename and before `latest` was replaced
  // left a complete checkpoint that `latest` does not name yet (seen in CI: a resume that started over).
  for (const auto& [step, folder] : checkpoint_folders(checkpoints_dir(output_dir)))
    if (step < before_step) return folder;
  return std::nullopt;
}

std::vector<std::string> set_aside_checkpoints(const std::string& output_dir, int64_t from_step,
                                               const std::string& suffix) {
  const std::string root = checkpoints_dir(output_dir);
  std::vector<std::string> renamed;
  for (const auto& [step, folder] : checkpoint_folders(root)) {
    if (step < from_step) continue;
    const std::string target = folder + suffix;
    remove_tree(target);  // one set aside by an earlier run at the same step
    std::error_code ec;
    fs::rename(folder, target, ec);
    if (ec) fail(folder, "a checkpoint folder that can be renamed to " + target, ec.message());
    renamed.push_back(target);
  }
  if (renamed.empty()) return renamed;
  const auto kept = checkpoint_folders(root);
  if (kept.empty()) {
    std::error_code ec;
    fs::remove(root + "/latest", ec);
  } else {
    write_file_atomic(root + "/latest", fs::path(kept.front().second).filename().string() + "\n");
  }
  return renamed;
}

namespace {

// Tensors are saved as fp32 (bf16 and fp16 ones too) or in their own dtype when it is uint8 (generator states) or int64.
DType saved_dtype(torch::ScalarType type) {
  return type == torch::kUInt8 ? DType::U8 : type == torch::kLong ? DType::I64 : DType::F32;
}

torch::ScalarType torch_dtype(DType dtype) {
  return dtype == DType::U8 ? torch::kUInt8 : dtype == DType::I64 ? torch::kLong : torch::kFloat32;
}

// Contiguous CPU copies in their saved dtype; `keep` holds the copies alive until written.
void add_tensor(std::vector<TensorBytes>& out, std::vector<torch::Tensor>& keep, const std::string& name,
                const torch::Tensor& t) {
  const DType dtype = saved_dtype(t.scalar_type());
  auto cpu = t.detach().to(torch::kCPU, torch_dtype(dtype)).contiguous();
  keep.push_back(cpu);
  out.push_back({name, dtype, cpu.sizes().vec(), cpu.data_ptr(), static_cast<size_t>(cpu.numel() * cpu.element_size())});
}

// The tensor `name` as add_tensor saved `like` (a parameter, or an AdamW moment of one: same shape and dtype), or, with
// no `like`, as it saved a generator state (uint8, any length). A file edited by hand or by another program is an error
// naming the file and the tensor: a tensor relabelled F16 or I32 was read as int64, past the end of the file, and one
// of another shape was broadcast into the parameter.
torch::Tensor read_tensor(const SafetensorsFile& file, const std::string& name, const torch::Tensor* like) {
  const TensorInfo& info = file.at(name);
  const std::string where = file.path() + " tensor '" + name + "'";
  const DType dtype = like ? saved_dtype(like->scalar_type()) : DType::U8;
  const std::vector<int64_t> shape = like ? like->sizes().vec() : std::vector<int64_t>{};
  // What makes from_blob below stay inside the file and fill exactly the parameter.
  check_checkpoint_tensor(info, where, dtype, like ? &shape : nullptr);
  torch::Tensor value = torch::from_blob(const_cast<unsigned char*>(file.data(info)), info.shape, torch_dtype(dtype)).clone();
  // Weights and moments as training leaves them: finite (the bad-step guard never applies a non-finite step), and a
  // second moment (a mean of squares) never below 0, whose square root would make every later step NaN.
  if (like && !torch::isfinite(value).all().item<bool>()) fail(where, "finite values", "NaN or inf");
  if (like && name.size() >= 11 && name.compare(name.size() - 11, 11, "/exp_avg_sq") == 0 && (value < 0).any().item<bool>())
    fail(where, "a second moment of 0 or more (a mean of squared gradients)", "negative values");
  return value;
}

}  // namespace

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
  for (const auto& exported : what.model_dirs) {
    const std::string dir = exported.subfolder.empty() ? folder : folder + "/" + exported.subfolder;
    save_model(*exported.model, dir);
    if (!exported.tokenizer_from.empty()) copy_tokenizer_files(exported.tokenizer_from, dir);
    if (exported.reward_offset) save_reward_offset(dir, *exported.reward_offset);
  }
}

}  // namespace

void save_checkpoint(const std::string& output_dir, int64_t step, const Checkpointable& what, const json& state,
                     int64_t keep, int64_t protect) {
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
  // Keep the newest `keep` checkpoints (by step) and `protect`; folders named otherwise are not ours to remove.
  const auto existing = checkpoint_folders(root);
  for (size_t i = static_cast<size_t>(std::max<int64_t>(keep, 1)); i < existing.size(); ++i)
    if (existing[i].first != protect) remove_tree(existing[i].second);
}


void check_checkpoint_folder(const std::string& dir) {
  const std::string expected = "a checkpoint folder (OUTPUT/checkpoints/step-N: state.json, modules.safetensors, "
                               "optimizers.safetensors)";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("--resume_from_checkpoint " + dir, expected, "no such folder");
  std::string missing;
  for (const char* name : {"state.json", "modules.safetensors", "optimizers.safetensors"})
    if (!file_exists(dir + "/" + name)) missing += (missing.empty() ? "" : ", ") + std::string(name);
  if (missing.empty()) return;
  std::string found = "a folder without " + missing;
  const auto folders = checkpoint_folders(fs::is_directory(dir + "/checkpoints", ec) ? checkpoints_dir(dir) : dir);
  if (!folders.empty())
    found += " (it holds checkpoints: pass one of them, e.g. " + folders.front().second + ")";
  fail("--resume_from_checkpoint " + dir, expected, found);
}

std::optional<json> load_latest_checkpoint(const std::string& output_dir, const Checkpointable& what,
                                           const std::vector<std::string>& required) {
  const std::optional<std::string> newest = newest_checkpoint(output_dir);
  if (!newest) return std::nullopt;
  return load_checkpoint(*newest, what, required);
}

json load_checkpoint(const std::string& dir, const Checkpointable& what, const std::vector<std::string>& required) {
  check_checkpoint_folder(dir);
  const std::string state_path = dir + "/state.json";
  json state = read_json(state_path);
  std::set<std::string> optimizer_keys;
  for (const auto& [prefix, optimizer] : what.optimizers) {
    int64_t index = 0;
    for (auto& group : optimizer->param_groups())
      for (size_t i = 0; i < group.params().size(); ++i) optimizer_keys.insert(prefix + "/" + std::to_string(index++));
  }
  check_checkpoint_state(state, state_path, required, optimizer_keys);
  SafetensorsFile modules(dir + "/modules.safetensors");
  torch::NoGradGuard no_grad;
  for (const auto& [prefix, module] : what.modules)
    for (auto& p : module->named_parameters()) p.value().copy_(read_tensor(modules, prefix + "/" + p.key(), &p.value()));
  SafetensorsFile optimizers(dir + "/optimizers.safetensors");
  for (const auto& [prefix, optimizer] : what.optimizers) {
    int64_t index = 0;
    for (auto& group : optimizer->param_groups()) {
      for (auto& p : group.params()) {
        const std::string key = prefix + "/" + std::to_string(index++);
        if (!state["optimizer_steps"].contains(key)) continue;
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->step(state["optimizer_steps"][key].get<int64_t>());
        s->exp_avg(read_tensor(optimizers, key + "/exp_avg", &p).to(p.device(), p.scalar_type()));
        s->exp_avg_sq(read_tensor(optimizers, key + "/exp_avg_sq", &p).to(p.device(), p.scalar_type()));
        optimizer->state()[p.unsafeGetTensorImpl()] = std::move(s);
      }
    }
  }
  for (const auto& [prefix, generator] : what.generators) {
    const auto saved = read_tensor(optimizers, "generator/" + prefix, nullptr);
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

}  // namespace rlhf
