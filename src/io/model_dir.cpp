#include "io/model_dir.h"

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json.h"
#include "common/files.h"
#include "io/formats/safetensors.h"
#include "io/hf_names.h"
#include "io/peft_adapter.h"

namespace rlhf {

namespace fs = std::filesystem;
using json = nlohmann::json;

torch::Dtype parse_torch_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "fp16") return torch::kFloat16;
  fail("dtype", "float32, bfloat16 or float16", "'" + name + "'");
}

namespace {

torch::Dtype torch_dtype_of(DType d, const std::string& where) {
  switch (d) {
    case DType::F32: return torch::kFloat32;
    case DType::F16: return torch::kFloat16;
    case DType::BF16: return torch::kBFloat16;
    case DType::F64: return torch::kFloat64;
    default: fail(where, "a floating-point tensor (F32, F16, BF16)", dtype_name(d));
  }
}

DType safetensors_dtype_of(torch::Dtype d) {
  if (d == torch::kFloat32) return DType::F32;
  if (d == torch::kBFloat16) return DType::BF16;
  if (d == torch::kFloat16) return DType::F16;
  fail("cannot write dtype " + std::string(c10::toString(d)) + " to safetensors here");
}

// All weight tensors of a model directory, whether in one file or in shards.
class WeightFiles {
 public:
  explicit WeightFiles(const std::string& dir) {
    for (const auto& path : model_weight_files(dir)) files_.push_back(std::make_unique<SafetensorsFile>(path));
  }

  // Elements of all tensors in the files (their headers are validated against the file sizes).
  uint64_t total_elements() const {
    uint64_t total = 0;
    for (const auto& f : files_)
      for (const auto& t : f->tensors()) total += static_cast<uint64_t>(t.numel());
    return total;
  }

  // Looks a name up, also without the backbone prefix (the original GPT-2 checkpoints have none).
  std::pair<const SafetensorsFile*, const TensorInfo*> find(const std::string& name, const std::string& prefix) const {
    for (const auto& name_try : {name, name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : std::string()}) {
      if (name_try.empty()) continue;
      for (const auto& f : files_)
        if (const TensorInfo* info = f->find(name_try)) return {f.get(), info};
    }
    return {nullptr, nullptr};
  }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
};

torch::Tensor tensor_view(const SafetensorsFile& file, const TensorInfo& info) {
  const std::string where = file.path() + " tensor '" + info.name + "'";
  // The map is read-only; from_blob never writes, and the caller copies out before the file closes.
  return torch::from_blob(const_cast<unsigned char*>(file.data(info)), info.shape,
                          torch::TensorOptions().dtype(torch_dtype_of(info.dtype, where)));
}

// Row counts of the pieces a fused parameter is made of.
std::vector<int64_t> concat_sizes(const ModelConfig& c, const std::string& ours) {
  if (ours.find("qkv") != std::string::npos) return {c.q_dim(), c.kv_dim(), c.kv_dim()};
  return {c.intermediate_size, c.intermediate_size};  // gate | up
}

}  // namespace

Transformer load_model(const std::string& dir, const LoadOptions& options) {
  ModelConfig config = load_model_config(dir + "/config.json");
  const bool classifier = config.architecture.find("ForSequenceClassification") != std::string::npos;
  WeightFiles files(dir);
  // The model is allocated from config.json's sizes: check first that the weights on disk could fill it, so that a
  // wrong or hostile config.json is an error, not a huge allocation. Without the LM head (tied), every checkpoint of
  // this config holds at least this many elements.
  ModelConfig backbone = config;
  backbone.tie_word_embeddings = true;
  const uint64_t needed = static_cast<uint64_t>(backbone.parameter_count()), present = files.total_elements();
  if (needed > present)
    fail(dir + "/config.json", "sizes that the checkpoint's tensors can fill (" + std::to_string(present) + " elements)",
         "sizes that need at least " + std::to_string(needed) + " parameters");
  Transformer model(config, !classifier, classifier);
  auto params = model->named_parameters();
  torch::NoGradGuard no_grad;
  for (const auto& rule : hf_name_rules(config, !classifier, classifier)) {
    std::vector<torch::Tensor> pieces;
    for (const auto& hf_name : rule.hf) {
      auto [file, info] = files.find(hf_name, family_names(config.family).backbone);
      if (!info) fail(dir, "a tensor named '" + hf_name + "' (for " + config.architecture + ")", "none in the checkpoint");
      pieces.push_back(tensor_view(*file, *info));
    }
    torch::Tensor value = rule.op == NameOp::ConcatRows ? torch::cat(pieces, 0)
                          : rule.op == NameOp::Transpose ? pieces[0].t()
                                                        : pieces[0];
    torch::Tensor& param = params[rule.ours];
    if (value.sizes() != param.sizes()) {
      std::ostringstream expected, found;
      expected << param.sizes();
      found << value.sizes();
      fail(dir + " tensor(s) for '" + rule.hf[0] + "'", "shape " + expected.str() + " from config.json",
           found.str());
    }
    param.copy_(value);
  }
  model->to(options.device, options.dtype);
  return model;
}

void save_model(TransformerImpl& model, const std::string& dir, const SaveOptions& options) {
  make_dirs(dir);
  ModelConfig config = model.config();
  config.torch_dtype = options.dtype;
  const torch::Dtype dtype = parse_torch_dtype(options.dtype);
  const bool classifier = model.has_score_head() && !model.has_lm_head();
  auto params = model.named_parameters();

  std::vector<std::pair<std::string, torch::Tensor>> out;  // HF name -> contiguous CPU tensor
  for (const auto& rule : hf_name_rules(config, model.has_lm_head(), model.has_score_head())) {
    // LoRA adapters are merged (W + (alpha/r) B A): the directory is a plain model transformers loads.
    torch::Tensor ours = lora_merged(model, rule.ours, params[rule.ours]).detach().to(torch::kCPU, dtype);
    if (rule.op == NameOp::ConcatRows) {
      auto pieces = ours.split_with_sizes(concat_sizes(config, rule.ours), 0);
      for (size_t k = 0; k < rule.hf.size(); ++k) out.emplace_back(rule.hf[k], pieces[k].contiguous());
    } else {
      out.emplace_back(rule.hf[0], rule.op == NameOp::Transpose ? ours.t().contiguous() : ours.contiguous());
    }
  }
  // Greedy sharding in order; one file when everything fits.
  std::vector<std::vector<size_t>> shards(1);
  int64_t shard_bytes = 0, total_bytes = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t bytes = out[i].second.numel() * out[i].second.element_size();
    if (!shards.back().empty() && shard_bytes + bytes > options.max_shard_bytes) shards.emplace_back(), shard_bytes = 0;
    shards.back().push_back(i);
    shard_bytes += bytes, total_bytes += bytes;
  }
  json weight_map = json::object();
  for (size_t s = 0; s < shards.size(); ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    const std::string file = shards.size() == 1 ? "model.safetensors" : name;
    std::vector<TensorBytes> tensors;
    for (size_t i : shards[s]) {
      const auto& t = out[i].second;
      tensors.push_back({out[i].first, safetensors_dtype_of(dtype), t.sizes().vec(), t.data_ptr(),
                         static_cast<size_t>(t.numel() * t.element_size())});
      weight_map[out[i].first] = file;
    }
    write_safetensors(dir + "/" + file, tensors, {{"format", "pt"}});
  }
  if (shards.size() > 1) {
    json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
    write_file_atomic(dir + "/model.safetensors.index.json", index.dump(2));
    std::error_code ec;
    fs::remove(dir + "/model.safetensors", ec);  // a stale single file would shadow the shards
  }
  write_file_atomic(dir + "/config.json", model_config_to_json(config, classifier ? "sequence_classification" : "causal_lm"));
  if (has_lora(model)) save_peft_adapter(model, dir + "/adapter");  // the adapter alone too, in PEFT's layout
}

double load_reward_offset(const std::string& model_dir) {
  const std::string path = model_dir + "/reward_normalization.json";
  if (!file_exists(path)) return 0.0;
  const nlohmann::json j = read_json(path);
  try {
    return j.at("offset").get<double>();
  } catch (const nlohmann::json::exception& e) {
    fail(path, "{\"offset\": number}", e.what());
  }
}

void save_reward_offset(const std::string& model_dir, double offset) {
  write_file_atomic(model_dir + "/reward_normalization.json",
                    nlohmann::json{{"offset", offset},
                                   {"note", "reward = score head output - offset; offset = mean raw reward of the "
                                            "demonstrations"}}
                        .dump(2));
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

}  // namespace rlhf
