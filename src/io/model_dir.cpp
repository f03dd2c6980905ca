#include "io/model_dir.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
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

  // Looks a name up, also without the backbone prefix (the original GPT-2 checkpoints have none), and notes it as used.
  std::pair<const SafetensorsFile*, const TensorInfo*> find(const std::string& name, const std::string& prefix) {
    for (const auto& name_try : {name, name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : std::string()}) {
      if (name_try.empty()) continue;
      for (const auto& f : files_)
        if (const TensorInfo* info = f->find(name_try)) {
          used_.insert(info);
          return {f.get(), info};
        }
    }
    return {nullptr, nullptr};
  }

  // The tensors find() never returned, as (file, name), in file order.
  std::vector<std::pair<std::string, std::string>> unused() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& f : files_)
      for (const auto& t : f->tensors())
        if (!used_.count(&t)) out.emplace_back(f->path(), t.name);
    return out;
  }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::set<const TensorInfo*> used_;
};

// Tensors a checkpoint may hold that no model of its config reads, as transformers also ignores them: GPT-2's causal
// mask buffers (h.N.attn.bias, h.N.attn.masked_bias in the original checkpoints), Llama's rotary inverse frequencies
// (older checkpoints), and an LM head beside tied embeddings (the embedding is the head).
bool ignorable_unused(const std::string& name, const ModelConfig& config) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (config.family == Family::GPT2 && (ends_with(".attn.bias") || ends_with(".attn.masked_bias"))) return true;
  if (ends_with(".rotary_emb.inv_freq")) return true;
  return config.tie_word_embeddings && name == "lm_head.weight";
}

std::string shape_text(c10::IntArrayRef shape) {
  std::string text;
  for (int64_t d : shape) text += (text.empty() ? "" : ", ") + std::to_string(d);
  return "[" + text + "]";
}

// The shape the file must give each piece of `param` (exactly: a [1] tensor would broadcast into a [128] one).
std::vector<int64_t> piece_shape(const torch::Tensor& param, const NameRule& rule, const std::vector<int64_t>& rows,
                                 size_t piece) {
  std::vector<int64_t> shape = param.sizes().vec();
  if (rule.op == NameOp::Transpose) std::reverse(shape.begin(), shape.end());
  if (rule.op == NameOp::ConcatRows) shape[0] = rows[piece];
  return shape;
}

// One pass over a tensor as the file holds it: a NaN or inf weight is refused at load (it changed generations silently,
// or surfaced steps later as a non-finite loss that blamed the learning rate).
void check_finite(const torch::Tensor& value, const std::string& where) {
  if (value.is_floating_point() && !torch::isfinite(value).all().item<bool>()) {
    const int64_t nans = torch::isnan(value).sum().item<int64_t>(), infs = torch::isinf(value).sum().item<int64_t>();
    const int64_t first = torch::nonzero(~torch::isfinite(value.flatten())).index({0, 0}).item<int64_t>();
    fail(where, "finite weights", std::to_string(nans) + " NaN and " + std::to_string(infs) + " inf of " +
                                      std::to_string(value.numel()) + " values (the first at flat index " +
                                      std::to_string(first) + ")");
  }
}

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
  // this config holds at least this many elements. A config needing up to twice what the checkpoint holds is built
  // anyway, so that the tensor-by-tensor shape checks below name the tensor that does not fit (all of them matching
  // exactly means the checkpoint fills the model).
  ModelConfig backbone = config;
  backbone.tie_word_embeddings = true;
  const uint64_t needed = static_cast<uint64_t>(backbone.parameter_count()), present = files.total_elements();
  if (needed > 2 * present)
    fail(dir + "/config.json", "sizes that the checkpoint's tensors can fill (" + std::to_string(present) + " elements)",
         "sizes that need at least " + std::to_string(needed) + " parameters");
  Transformer model(config, !classifier, classifier);
  auto params = model->named_parameters();
  torch::NoGradGuard no_grad;
  for (const auto& rule : hf_name_rules(config, !classifier, classifier)) {
    torch::Tensor& param = params[rule.ours];
    const std::vector<int64_t> rows = rule.op == NameOp::ConcatRows ? concat_sizes(config, rule.ours)
                                                                    : std::vector<int64_t>{};
    std::vector<torch::Tensor> pieces;
    for (size_t k = 0; k < rule.hf.size(); ++k) {
      const std::string& hf_name = rule.hf[k];
      auto [file, info] = files.find(hf_name, family_names(config.family).backbone);
      if (!info) fail(dir, "a tensor named '" + hf_name + "' (for " + config.architecture + ")", "none in the checkpoint");
      const std::string where = file->path() + " tensor '" + info->name + "'";
      const std::vector<int64_t> expected = piece_shape(param, rule, rows, k);
      if (c10::IntArrayRef(info->shape) != c10::IntArrayRef(expected))
        fail(where, "shape " + shape_text(expected) + " from config.json", shape_text(info->shape));
      pieces.push_back(tensor_view(*file, *info));
      check_finite(pieces.back(), where);
    }
    torch::Tensor value = rule.op == NameOp::ConcatRows ? torch::cat(pieces, 0)
                          : rule.op == NameOp::Transpose ? pieces[0].t()
                                                        : pieces[0];
    param.copy_(value);
  }
  // A checkpoint with more than the config reads (num_hidden_layers 3 on a 4-layer checkpoint) would lose the rest
  // silently: transformers warns, we refuse.
  std::vector<std::pair<std::string, std::string>> unused;
  for (const auto& entry : files.unused())
    if (!ignorable_unused(entry.second, config)) unused.push_back(entry);
  if (!unused.empty()) {
    std::string names;
    for (size_t i = 0; i < unused.size() && i < 4; ++i) names += (i ? ", " : "") + unused[i].second;
    if (unused.size() > 4) names += ", …";
    fail(unused[0].first,
         "only tensors that the model of " + dir + "/config.json reads (" + config.architecture + ", " +
             std::to_string(config.num_layers) + (config.num_layers == 1 ? " layer)" : " layers)"),
         std::to_string(unused.size()) + " it does not: " + names +
             " (does the layer count or the architecture in config.json match the checkpoint?)");
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
