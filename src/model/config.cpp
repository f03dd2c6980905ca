#include "model/config.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"

namespace rlhf {

using json = nlohmann::json;

std::string family_name(Family family) {
  switch (family) {
    case Family::GPT2: return "gpt2";
    case Family::Llama: return "llama";
    case Family::Qwen2: return "qwen2";
  }
  return "?";
}

void set_family(ModelConfig& c, Family family) {
  c.family = family;
  const bool gpt2 = family == Family::GPT2;
  c.learned_positions = c.layer_norm = c.gelu_mlp = c.linear_bias = gpt2;
}

int64_t ModelConfig::parameter_count() const {
  const int64_t c = hidden_size, norm = layer_norm ? 2 * c : c, qkv = q_dim() + 2 * kv_dim();
  const int64_t per_layer = 2 * norm + c * qkv + (attention_bias ? qkv : 0) + q_dim() * c + (linear_bias ? c : 0) +
                            (gelu_mlp ? 2 : 3) * c * intermediate_size + (linear_bias ? intermediate_size + c : 0);
  int64_t embeddings = vocab_size * c + (learned_positions ? max_position_embeddings * c : 0);
  int64_t final_norm = norm;
  int64_t head = tie_word_embeddings ? 0 : vocab_size * c;
  return embeddings + num_layers * per_layer + final_norm + head;
}

namespace {

// An integer, or a float with an integral value (some configs write 768.0): converting a float out of int64's range
// would be undefined behaviour, so anything else is refused.
bool as_int64(const json& value, int64_t* out) {
  if (value.is_number_integer()) {
    if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = value.get<int64_t>();
    return true;
  }
  if (!value.is_number_float()) return false;
  const double v = value.get<double>();
  if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9007199254740992.0) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

// Typed read of a key with a default; a wrong type is a clear error naming file and key.
template <typename T>
T get(const json& j, const std::string& key, const T& fallback, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if constexpr (std::is_same_v<T, int64_t>) {
    int64_t value = 0;
    if (!as_int64(*it, &value)) fail(path, "an integer for '" + key + "'", json_excerpt(*it));
    return value;
  } else {
    try {
      return it->get<T>();
    } catch (const json::exception&) {
      fail(path, "key '" + key + "' of another type", json_excerpt(*it));
    }
  }
}

template <typename T>
T require(const json& j, const std::string& key, const std::string& path) {
  if (!j.contains(key) || j[key].is_null()) fail(path, "key '" + key + "'", "nothing");
  return get<T>(j, key, T{}, path);
}

// eos_token_id may be a number or a list (Llama 3); the first is the one generation stops on by default here.
int64_t token_id(const json& j, const std::string& key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return -1;
  const json& first = it->is_array() ? (it->empty() ? json() : (*it)[0]) : *it;
  if (first.is_null()) return -1;
  int64_t id = 0;
  if (!as_int64(first, &id) || id < -1) fail(path, "a token id (an integer >= 0) for '" + key + "'", json_excerpt(*it));
  return id;
}

// Bounds on the sizes a config may give: far above any released model (Llama-3-405B has hidden 16384, intermediate
// 53248, 126 layers, vocabulary 128256), and small enough that the parameter count and every tensor size computed from
// them fit in int64.
void check_size(const std::string& path, const std::string& key, int64_t value, int64_t max) {
  if (value < 1 || value > max)
    fail(path, "'" + key + "' from 1 to " + std::to_string(max), std::to_string(value));
}

// A real number that must be above 0 and finite (a JSON number may be 1e400, read as inf).
void check_positive(const std::string& path, const std::string& key, double value) {
  if (!(value > 0) || !std::isfinite(value)) fail(path, "'" + key + "' above 0 (and finite)", json_excerpt(json(value)));
}

}  // namespace

ModelConfig load_model_config(const std::string& path) {
  if (!file_exists(path)) fail(path, "a readable config.json", "no such file");
  json j = read_json(path);
  if (!j.is_object()) fail(path, "a JSON object", j.type_name());
  ModelConfig c;
  std::string arch;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty()) {
    if (!j["architectures"][0].is_string()) fail(path, "architectures: a list of names", json_excerpt(j["architectures"]));
    arch = j["architectures"][0].get<std::string>();
  }
  std::string model_type = get<std::string>(j, "model_type", "", path);
  c.architecture = arch;
  if (arch.rfind("GPT2", 0) == 0 || (arch.empty() && model_type == "gpt2")) set_family(c, Family::GPT2);
  else if (arch.rfind("Llama", 0) == 0 || (arch.empty() && model_type == "llama")) set_family(c, Family::Llama);
  else if (arch.rfind("Qwen2", 0) == 0 || (arch.empty() && model_type == "qwen2")) set_family(c, Family::Qwen2);
  else
    fail(path, "architectures GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM (or their ForSequenceClassification)",
         "'" + (arch.empty() ? model_type : arch) + "'");

  if (c.family == Family::GPT2) {
    c.vocab_size = require<int64_t>(j, "vocab_size", path);
    c.hidden_size = require<int64_t>(j, "n_embd", path);
    c.num_layers = require<int64_t>(j, "n_layer", path);
    c.num_heads = require<int64_t>(j, "n_head", path);
    c.num_kv_heads = c.num_heads;
    c.intermediate_size = get<int64_t>(j, "n_inner", 4 * c.hidden_size, path);
    c.max_position_embeddings = get<int64_t>(j, "n_positions", 1024, path);
    c.norm_eps = get<double>(j, "layer_norm_epsilon", 1e-5, path);
    c.tie_word_embeddings = get<bool>(j, "tie_word_embeddings", true, path);
    c.attention_bias = true;
    std::string act = get<std::string>(j, "activation_function", "gelu_new", path);
    if (act != "gelu_new" && act != "gelu_pytorch_tanh")
      fail(path, "activation_function gelu_new (GELU, tanh form)", "'" + act + "'");
  } else {
    c.vocab_size = require<int64_t>(j, "vocab_size", path);
    c.hidden_size = require<int64_t>(j, "hidden_size", path);
    c.num_layers = require<int64_t>(j, "num_hidden_layers", path);
    c.num_heads = require<int64_t>(j, "num_attention_heads", path);
    c.num_kv_heads = get<int64_t>(j, "num_key_value_heads", c.num_heads, path);
    c.intermediate_size = require<int64_t>(j, "intermediate_size", path);
    c.max_position_embeddings = get<int64_t>(j, "max_position_embeddings", 2048, path);
    c.norm_eps = get<double>(j, "rms_norm_eps", 1e-6, path);
    c.rope_theta = get<double>(j, "rope_theta", 10000.0, path);
    c.tie_word_embeddings = get<bool>(j, "tie_word_embeddings", false, path);
    c.attention_bias = c.family == Family::Qwen2 ? true : get<bool>(j, "attention_bias", false, path);
    c.head_dim = get<int64_t>(j, "head_dim", 0, path);
    std::string act = get<std::string>(j, "hidden_act", "silu", path);
    if (act != "silu") fail(path, "hidden_act silu", "'" + act + "'");
    if (get<bool>(j, "mlp_bias", false, path)) fail(path, "mlp_bias false", "true (not supported)");
    if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
      const json& rs = j["rope_scaling"];
      std::string type = get<std::string>(rs, "rope_type", get<std::string>(rs, "type", "", path), path);
      if (type != "linear" && type != "llama3" && type != "default")
        fail(path, "rope_scaling of type linear or llama3", "'" + type + "'");
      c.rope_scaling.type = type == "default" ? "" : type;
      c.rope_scaling.factor = get<double>(rs, "factor", 1.0, path);
      c.rope_scaling.low_freq_factor = get<double>(rs, "low_freq_factor", 1.0, path);
      c.rope_scaling.high_freq_factor = get<double>(rs, "high_freq_factor", 4.0, path);
      c.rope_scaling.original_max_position_embeddings =
          get<int64_t>(rs, "original_max_position_embeddings", 8192, path);
    }
  }
  const bool gpt2 = c.family == Family::GPT2;  // its config.json names the sizes differently
  if (!gpt2) {
    // RoPE's frequencies are theta^(-2i/d) (divided by the scaling factor): a theta of 0 or below, or a factor of 0,
    // gives NaN or infinite angles, or none at all, and the model computed something else without a word.
    check_positive(path, "rope_theta", c.rope_theta);
    if (!c.rope_scaling.type.empty()) {
      check_positive(path, "rope_scaling.factor", c.rope_scaling.factor);
      if (c.rope_scaling.type == "llama3") {
        check_positive(path, "rope_scaling.low_freq_factor", c.rope_scaling.low_freq_factor);
        check_positive(path, "rope_scaling.high_freq_factor", c.rope_scaling.high_freq_factor);
        if (!(c.rope_scaling.high_freq_factor > c.rope_scaling.low_freq_factor))  // the smoothing divides by the gap
          fail(path, "rope_scaling.high_freq_factor above low_freq_factor",
               json_excerpt(json(c.rope_scaling.high_freq_factor)) + " and " +
                   json_excerpt(json(c.rope_scaling.low_freq_factor)));
        check_size(path, "rope_scaling.original_max_position_embeddings",
                   c.rope_scaling.original_max_position_embeddings, int64_t{1} << 24);
      }
    }
  }
  check_size(path, "vocab_size", c.vocab_size, int64_t{1} << 24);
  check_size(path, gpt2 ? "n_embd" : "hidden_size", c.hidden_size, int64_t{1} << 20);
  check_size(path, gpt2 ? "n_layer" : "num_hidden_layers", c.num_layers, int64_t{1} << 12);
  check_size(path, gpt2 ? "n_head" : "num_attention_heads", c.num_heads, int64_t{1} << 12);
  check_size(path, gpt2 ? "n_head" : "num_key_value_heads", c.num_kv_heads, int64_t{1} << 12);
  check_size(path, gpt2 ? "n_inner" : "intermediate_size", c.intermediate_size, int64_t{1} << 22);
  check_size(path, gpt2 ? "n_positions" : "max_position_embeddings", c.max_position_embeddings, int64_t{1} << 24);
  if (c.num_heads % c.num_kv_heads != 0)
    fail(path, "num_attention_heads a positive multiple of num_key_value_heads",
         std::to_string(c.num_heads) + " and " + std::to_string(c.num_kv_heads));
  if (c.head_dim == 0) {
    if (c.hidden_size % c.num_heads != 0)
      fail(path, "a hidden size divisible by the number of heads",
           std::to_string(c.hidden_size) + " and " + std::to_string(c.num_heads) + " heads");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  check_size(path, "head_dim", c.head_dim, int64_t{1} << 14);
  c.bos_token_id = token_id(j, "bos_token_id", path);
  c.eos_token_id = token_id(j, "eos_token_id", path);
  c.pad_token_id = token_id(j, "pad_token_id", path);
  // An id past the embedding failed deep in torch ("index out of range in self") once a prompt was padded with it.
  for (const auto& [key, id] : {std::pair{"bos_token_id", c.bos_token_id}, std::pair{"eos_token_id", c.eos_token_id},
                                std::pair{"pad_token_id", c.pad_token_id}})
    if (id >= c.vocab_size)
      fail(path, std::string("'") + key + "' below vocab_size " + std::to_string(c.vocab_size) +
                     " (an id of the embedding)", std::to_string(id));
  c.torch_dtype = get<std::string>(j, "torch_dtype", get<std::string>(j, "dtype", "float32", path), path);
  return c;
}

std::string model_config_to_json(const ModelConfig& c, const std::string& head) {
  json j;
  bool classifier = head == "sequence_classification";
  auto ids = [&](json& out) {
    if (c.bos_token_id >= 0) out["bos_token_id"] = c.bos_token_id;
    if (c.eos_token_id >= 0) out["eos_token_id"] = c.eos_token_id;
    if (c.pad_token_id >= 0) out["pad_token_id"] = c.pad_token_id;
  };
  if (c.family == Family::GPT2) {
    j = {{"architectures", {classifier ? "GPT2ForSequenceClassification" : "GPT2LMHeadModel"}},
         {"model_type", "gpt2"}, {"vocab_size", c.vocab_size}, {"n_embd", c.hidden_size}, {"n_layer", c.num_layers},
         {"n_head", c.num_heads}, {"n_inner", c.intermediate_size}, {"n_positions", c.max_position_embeddings},
         {"n_ctx", c.max_position_embeddings}, {"layer_norm_epsilon", c.norm_eps}, {"activation_function", "gelu_new"},
         {"resid_pdrop", 0.0}, {"embd_pdrop", 0.0}, {"attn_pdrop", 0.0}, {"summary_first_dropout", 0.0},
         {"tie_word_embeddings", c.tie_word_embeddings}, {"scale_attn_weights", true}};
  } else {
    bool qwen = c.family == Family::Qwen2;
    std::string prefix = qwen ? "Qwen2" : "Llama";
    j = {{"architectures", {prefix + (classifier ? "ForSequenceClassification" : "ForCausalLM")}},
         {"model_type", qwen ? "qwen2" : "llama"}, {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size},
         {"num_hidden_layers", c.num_layers}, {"num_attention_heads", c.num_heads},
         {"num_key_value_heads", c.num_kv_heads}, {"intermediate_size", c.intermediate_size},
         {"max_position_embeddings", c.max_position_embeddings}, {"rms_norm_eps", c.norm_eps},
         {"rope_theta", c.rope_theta}, {"tie_word_embeddings", c.tie_word_embeddings}, {"hidden_act", "silu"},
         {"head_dim", c.head_dim}, {"attention_dropout", 0.0}};
    if (!qwen) j["attention_bias"] = c.attention_bias, j["mlp_bias"] = false;
    if (qwen) j["use_sliding_window"] = false;
    if (!c.rope_scaling.type.empty()) {
      json rs = {{"rope_type", c.rope_scaling.type}, {"factor", c.rope_scaling.factor}};
      if (c.rope_scaling.type == "llama3") {
        rs["low_freq_factor"] = c.rope_scaling.low_freq_factor;
        rs["high_freq_factor"] = c.rope_scaling.high_freq_factor;
        rs["original_max_position_embeddings"] = c.rope_scaling.original_max_position_embeddings;
      }
      j["rope_scaling"] = rs;
    }
  }
  ids(j);
  j["torch_dtype"] = c.torch_dtype;
  if (classifier) j["num_labels"] = 1, j["id2label"] = {{"0", "LABEL_0"}}, j["label2id"] = {{"LABEL_0", 0}};
  return j.dump(2);
}

ModelConfig tiny_config(const std::string& family, int64_t vocab_size, int64_t hidden_size, int64_t num_layers,
                        int64_t num_heads, int64_t num_kv_heads, int64_t max_positions) {
  ModelConfig c;
  if (family == "gpt2") set_family(c, Family::GPT2), c.architecture = "GPT2LMHeadModel";
  else if (family == "llama") set_family(c, Family::Llama), c.architecture = "LlamaForCausalLM";
  else if (family == "qwen2") set_family(c, Family::Qwen2), c.architecture = "Qwen2ForCausalLM";
  else fail("model family", "gpt2, llama or qwen2", "'" + family + "'");
  const bool gpt2 = c.family == Family::GPT2;
  c.vocab_size = vocab_size;
  c.hidden_size = hidden_size;
  c.num_layers = num_layers;
  c.num_heads = num_heads;
  c.num_kv_heads = gpt2 ? num_heads : num_kv_heads;
  c.head_dim = hidden_size / num_heads;
  c.intermediate_size = gpt2 ? 4 * hidden_size : (8 * hidden_size / 3 + 63) / 64 * 64;
  c.max_position_embeddings = max_positions;
  c.norm_eps = gpt2 ? 1e-5 : 1e-6;
  c.tie_word_embeddings = true;
  c.attention_bias = c.family != Family::Llama;
  return c;
}

}  // namespace rlhf
