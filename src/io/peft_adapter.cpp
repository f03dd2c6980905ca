#include "io/peft_adapter.h"

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "io/formats/safetensors.h"
#include "io/hf_names.h"

namespace rlhf {

void save_peft_adapter(TransformerImpl& model, const std::string& dir) {
  const LoraSummary s = lora_summary(model);
  if (s.r == 0) return;
  const ModelConfig& c = model.config();
  const bool classifier = model.has_score_head() && !model.has_lm_head();
  // PeftModel wraps LoraModel wraps the HF model: "base_model.model." then the HF model's own names.
  const std::string prefix = "base_model.model." + family_names(c.family).backbone + family_names(c.family).layers;
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (size_t i = 0; i < model.layers->size(); ++i) {
    const auto& lora = *model.layers[i]->as<BlockImpl>()->lora;
    for (const auto& a : lora.adapters) {
      const std::string module = prefix + std::to_string(i) + "." + a.hf_module;
      tensors.emplace_back(module + ".lora_A.weight", a.A.detach().to(torch::kCPU, torch::kFloat32).contiguous());
      tensors.emplace_back(module + ".lora_B.weight", a.B.detach().to(torch::kCPU, torch::kFloat32).contiguous());
    }
  }
  if (s.train_score_head)
    tensors.emplace_back("base_model.model.score.weight", model.score.detach().to(torch::kCPU, torch::kFloat32).contiguous());
  std::vector<TensorBytes> out;
  for (const auto& [name, t] : tensors)
    out.push_back({name, DType::F32, t.sizes().vec(), t.data_ptr(), static_cast<size_t>(t.numel() * t.element_size())});
  make_dirs(dir);
  write_safetensors(dir + "/adapter_model.safetensors", out, {{"format", "pt"}});
  std::vector<std::string> short_names;  // PEFT records the names as given; these match the same modules
  for (const auto& m : s.target_modules) short_names.push_back(m);
  nlohmann::json config = {
      {"peft_type", "LORA"},
      {"task_type", classifier ? "SEQ_CLS" : "CAUSAL_LM"},
      {"base_model_name_or_path", s.base_model},
      {"r", s.r},
      {"lora_alpha", s.alpha},
      {"lora_dropout", s.dropout},
      {"target_modules", short_names},
      {"fan_in_fan_out", c.family == Family::GPT2},  // GPT-2's Conv1D stores [in, out]
      {"bias", "none"},
      {"modules_to_save", s.train_score_head ? nlohmann::json::array({"score"}) : nlohmann::json(nullptr)},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"use_rslora", false},
      {"use_dora", false}};
  write_file_atomic(dir + "/adapter_config.json", config.dump(2));
}

}  // namespace rlhf
