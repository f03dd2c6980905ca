// rlhf forward: run a model on a batch of token ids from a safetensors file and write its logits (and scalar scores).
// A debugging tool, and how the tests compare our forward pass with transformers'.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "command.h"
#include "io/hf_cache.h"
#include "common/error.h"
#include "io/formats/safetensors.h"
#include "io/model_dir.h"
#include "train/loop.h"

namespace rlhf::cli {
namespace {

torch::Tensor read_int_tensor(const SafetensorsFile& file, const std::string& name) {
  const auto& info = file.at(name);
  if (info.dtype != DType::I64) fail(file.path() + " tensor '" + name + "'", "dtype I64", dtype_name(info.dtype));
  return torch::from_blob(const_cast<unsigned char*>(file.data(info)), info.shape, torch::kLong).clone();
}

struct ForwardArgs {
  std::string model, input, output;
  std::string dtype = "float32";  // bfloat16: weights held in bf16, run under bf16 autocast (the frozen models' path)
};

void run(const ForwardArgs& a) {
  auto model = load_model(a.model, LoadOptions{parse_torch_dtype(a.dtype)});
  model->eval();
  torch::NoGradGuard no_grad;
  AutocastGuard autocast(torch::kCPU, a.dtype);
  SafetensorsFile input(a.input);
  auto ids = read_int_tensor(input, "input_ids");
  torch::Tensor mask = input.find("attention_mask") ? read_int_tensor(input, "attention_mask") : torch::ones_like(ids);
  torch::Tensor positions = input.find("position_ids") ? read_int_tensor(input, "position_ids") : positions_from_mask(mask);
  auto hidden = model->hidden_states(ids, positions, mask);
  std::vector<std::pair<std::string, torch::Tensor>> outputs;
  if (model->has_lm_head()) outputs.emplace_back("logits", model->logits(hidden).to(torch::kFloat32).contiguous());
  if (model->has_score_head()) outputs.emplace_back("scores", model->scores(hidden).to(torch::kFloat32).contiguous());
  std::vector<TensorBytes> tensors;
  for (auto& [name, t] : outputs)
    tensors.push_back({name, DType::F32, t.sizes().vec(), t.data_ptr(), static_cast<size_t>(t.numel() * 4)});
  write_safetensors(a.output, tensors);
}

RegisterCommand reg{{"forward", "Run a model on token ids (safetensors in) and write logits / scores (safetensors out)",
                     [](CLI::App& app) {
                       auto args = std::make_shared<ForwardArgs>();
                       app.add_option("--model", args->model, "model directory (HF layout)")->required();
                       app.add_option("--input", args->input, "safetensors with input_ids [B,T] (I64), optional attention_mask, position_ids")->required();
                       app.add_option("--dtype", args->dtype, "float32 | bfloat16 (bf16 weights under bf16 autocast)");
                       app.add_option("--output", args->output, "safetensors to write: logits [B,T,V] and/or scores [B,T]")->required();
                       app.callback([args] {
                         args->model = resolve_model_path(args->model);  // a Hub id in the local cache, too
                         run(*args);
                       });
                     }}};

}  // namespace
}  // namespace rlhf::cli
