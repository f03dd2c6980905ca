#include "io/formats/gguf_model.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "common/error.h"
#include "io/hf_names.h"

namespace rlhf {

namespace {

// Buffers HF may save that are not weights (after the backbone prefix).
const std::set<std::string> kDroppedLayerSuffixes = {"attn.bias", "attn.masked_bias", "self_attn.rotary_emb.inv_freq"};
const std::set<std::string> kDroppedGlobal = {"rotary_emb.inv_freq"};

struct Mapped {
  std::string gguf;  // "" when dropped
  const TensorName* row = nullptr;
};

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The family's row for an HF name (io/hf_names.h), with the layer index put into the GGUF name.
Mapped map_name(Family family, const std::string& hf_name, int64_t num_layers) {
  const FamilyNames& names = family_names(family);
  // The backbone prefix is optional: the original GPT-2 checkpoints have none.
  const std::string name = starts_with(hf_name, names.backbone) ? hf_name.substr(names.backbone.size()) : hf_name;
  for (const auto* rows : {&names.before, &names.after})
    for (const auto& row : *rows)
      if (*row.gguf && name == row.hf) return {row.gguf, &row};
  if (kDroppedGlobal.count(name)) return {};
  if (starts_with(name, names.layers)) {
    size_t i = names.layers.size(), digits = 0;
    while (i + digits < name.size() && std::isdigit(static_cast<unsigned char>(name[i + digits]))) ++digits;
    if (digits > 0 && digits < 7 && i + digits < name.size() && name[i + digits] == '.') {
      int64_t index = std::stoll(name.substr(i, digits));
      std::string suffix = name.substr(i + digits + 1);
      if (num_layers >= 0 && index >= num_layers)
        fail("tensor '" + hf_name + "'", "a layer index below num_layers " + std::to_string(num_layers),
             std::to_string(index));
      for (const auto& row : names.layer)
        if (*row.gguf && suffix == row.hf) return {"blk." + std::to_string(index) + "." + row.gguf, &row};
      if (kDroppedLayerSuffixes.count(suffix)) return {};
    }
  }
  fail("tensor '" + hf_name + "'", "a tensor name of the HF layout this family uses", "an unknown name");
}

std::vector<int64_t> resolve_shape(const std::string& symbols, const ModelConfig& c) {
  std::vector<int64_t> shape;
  for (char s : symbols) {
    switch (s) {
      case 'V': shape.push_back(c.vocab_size); break;
      case 'C': shape.push_back(c.hidden_size); break;
      case 'P': shape.push_back(c.max_position_embeddings); break;
      case 'I': shape.push_back(c.intermediate_size); break;
      case 'Q': shape.push_back(c.q_dim()); break;
      case 'K': shape.push_back(c.kv_dim()); break;
      case 'T': shape.push_back(3 * c.hidden_size); break;
      case '1': shape.push_back(1); break;
      default: break;  // ','
    }
  }
  return shape;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::vector<float> to_float32(const TensorBytes& t) {
  int64_t numel = 1;
  for (auto d : t.shape) numel *= d;
  const std::string where = "tensor '" + t.name + "'";
  if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16)
    fail(where, "dtype F32, F16 or BF16", dtype_name(t.dtype));
  if (t.nbytes != static_cast<size_t>(numel) * dtype_size(t.dtype))
    fail(where, std::to_string(numel * dtype_size(t.dtype)) + " bytes for " + shape_text(t.shape),
         std::to_string(t.nbytes));
  std::vector<float> out(numel);
  if (t.dtype == DType::F32) {
    if (numel) std::memcpy(out.data(), t.data, t.nbytes);
    return out;
  }
  const auto* halves = static_cast<const uint8_t*>(t.data);
  for (int64_t i = 0; i < numel; ++i) {
    uint16_t h;
    std::memcpy(&h, halves + 2 * i, 2);
    out[i] = t.dtype == DType::F16 ? half_to_float(h) : bf16_to_float(h);
  }
  return out;
}

// Llama's converter: rows viewed as [heads, 2, head_dim/2, cols], the middle two axes swapped, so row (h, half, i)
// moves to (h, i, half): the two rope halves of a head become interleaved pairs.
std::vector<float> rope_rows(const std::vector<float>& in, int64_t rows, int64_t cols, int64_t heads,
                             const std::string& where) {
  if (heads <= 0 || rows % (2 * heads) != 0)
    fail(where, "rows divisible by 2 × " + std::to_string(heads) + " heads", std::to_string(rows));
  const int64_t half = rows / heads / 2;
  std::vector<float> out(in.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t part = 0; part < 2; ++part)
      for (int64_t i = 0; i < half; ++i) {
        const float* src = in.data() + ((h * 2 + part) * half + i) * cols;
        float* dst = out.data() + ((h * half + i) * 2 + part) * cols;
        std::memcpy(dst, src, cols * sizeof(float));
      }
  return out;
}

struct Prepared {
  std::string name;
  GgmlType type;
  std::vector<uint64_t> dims;
  std::vector<uint8_t> bytes;
};

// The converter's rule: 1-D tensors, norms and position embeddings stay F32; Q8_0 needs rows that are whole blocks.
Prepared encode(std::string name, const std::vector<float>& values, std::vector<int64_t> shape, GgmlType out_type) {
  Prepared p;
  p.name = std::move(name);
  for (auto it = shape.rbegin(); it != shape.rend(); ++it) p.dims.push_back(static_cast<uint64_t>(*it));
  bool keep_f32 = shape.size() <= 1 || ends_with(p.name, "_norm.weight") || p.name == "position_embd.weight";
  p.type = keep_f32 ? GgmlType::F32 : out_type;
  if (p.type == GgmlType::Q8_0 && p.dims[0] % 32 != 0) p.type = GgmlType::F16;
  if (p.type == GgmlType::F32) {
    p.bytes.resize(values.size() * 4);
    if (!values.empty()) std::memcpy(p.bytes.data(), values.data(), p.bytes.size());
  } else if (p.type == GgmlType::F16) {
    p.bytes.resize(values.size() * 2);
    for (size_t i = 0; i < values.size(); ++i) {
      uint16_t h = float_to_half(values[i]);
      std::memcpy(p.bytes.data() + 2 * i, &h, 2);
    }
  } else {
    p.bytes = quantize_q8_0(values.data(), values.size());
  }
  return p;
}

// Llama 3.1's frequency-dependent rope scaling as llama.cpp takes it: one factor per rotated pair that divides that
// pair's frequency (1 for short wavelengths, `factor` for long ones, a smooth blend between).
std::vector<float> llama3_rope_factors(const ModelConfig& c) {
  constexpr double kPi = 3.14159265358979323846;
  const RopeScaling& s = c.rope_scaling;
  const double low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const double high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
  std::vector<float> factors;
  for (int64_t i = 0; i < c.head_dim; i += 2) {
    const double freq = 1.0 / std::pow(c.rope_theta, static_cast<double>(i) / c.head_dim);
    const double wavelen = 2 * kPi / freq;
    if (wavelen < high_wavelen) factors.push_back(1.0f);
    else if (wavelen > low_wavelen) factors.push_back(static_cast<float>(s.factor));
    else {
      const double smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                            (s.high_freq_factor - s.low_freq_factor);
      factors.push_back(static_cast<float>(1.0 / ((1 - smooth) / s.factor + smooth)));
    }
  }
  return factors;
}

std::string arch_name(Family family) { return family_name(family); }

uint32_t file_type(GgmlType out_type) {
  switch (out_type) {
    case GgmlType::F32: return 0;   // ALL_F32
    case GgmlType::F16: return 1;   // MOSTLY_F16
    case GgmlType::Q8_0: return 7;  // MOSTLY_Q8_0
    default: fail("GGUF export type", "f32, f16 or q8_0", ggml_type_name(out_type));
  }
}

}  // namespace

std::string gguf_tensor_name(Family family, const std::string& hf_name) { return map_name(family, hf_name, -1).gguf; }

GgufMetadata gguf_model_metadata(const ModelConfig& c, const GgufTokenizerData& tok, GgmlType out_type,
                                 const std::string& name) {
  const std::string arch = arch_name(c.family);
  GgufMetadata m;
  auto u32 = [](int64_t v) { return GgufValue::u32(static_cast<uint32_t>(v)); };
  auto f32 = [](double v) { return GgufValue::f32(static_cast<float>(v)); };
  m.emplace_back("general.architecture", GgufValue::string(arch));
  m.emplace_back("general.type", GgufValue::string("model"));
  m.emplace_back("general.name", GgufValue::string(name.empty() ? "rlhf.cpp " + arch : name));
  m.emplace_back("general.file_type", GgufValue::u32(file_type(out_type)));
  m.emplace_back("general.quantization_version", GgufValue::u32(2));
  m.emplace_back(arch + ".vocab_size", u32(c.vocab_size));
  m.emplace_back(arch + ".context_length", u32(c.max_position_embeddings));
  m.emplace_back(arch + ".embedding_length", u32(c.hidden_size));
  m.emplace_back(arch + ".block_count", u32(c.num_layers));
  m.emplace_back(arch + ".feed_forward_length", u32(c.intermediate_size));
  m.emplace_back(arch + ".attention.head_count", u32(c.num_heads));
  m.emplace_back(arch + ".attention.head_count_kv", u32(c.num_kv_heads));
  if (c.family == Family::GPT2) {
    m.emplace_back(arch + ".attention.layer_norm_epsilon", f32(c.norm_eps));
  } else {
    m.emplace_back(arch + ".attention.layer_norm_rms_epsilon", f32(c.norm_eps));
    m.emplace_back(arch + ".attention.key_length", u32(c.head_dim));
    m.emplace_back(arch + ".attention.value_length", u32(c.head_dim));
    m.emplace_back(arch + ".rope.dimension_count", u32(c.head_dim));
    m.emplace_back(arch + ".rope.freq_base", f32(c.rope_theta));
    if (c.rope_scaling.type == "linear") {
      m.emplace_back(arch + ".rope.scaling.type", GgufValue::string("linear"));
      m.emplace_back(arch + ".rope.scaling.factor", f32(c.rope_scaling.factor));
    }
    // llama3 scaling travels as the rope_freqs.weight tensor (write_gguf_model), as llama.cpp's converter writes it.
  }

  // Tokenizer: the vocabulary padded to vocab_size with unused tokens, as the converter pads it.
  const std::string where = "GGUF tokenizer data";
  if (tok.model != "gpt2" && tok.model != "llama")
    fail(where, "tokenizer model 'gpt2' (byte-level BPE) or 'llama' (SentencePiece)", "'" + tok.model + "'");
  if (static_cast<int64_t>(tok.tokens.size()) > c.vocab_size)
    fail(where, "at most vocab_size = " + std::to_string(c.vocab_size) + " tokens",
         std::to_string(tok.tokens.size()));
  if (!tok.token_types.empty() && tok.token_types.size() != tok.tokens.size())
    fail(where, "one token type per token (" + std::to_string(tok.tokens.size()) + ")",
         std::to_string(tok.token_types.size()));
  if (!tok.scores.empty() && tok.scores.size() != tok.tokens.size())
    fail(where, "one score per token (" + std::to_string(tok.tokens.size()) + ")", std::to_string(tok.scores.size()));
  std::vector<std::string> tokens = tok.tokens;
  std::vector<int64_t> types(tok.token_types.begin(), tok.token_types.end());
  types.resize(tokens.size(), static_cast<int64_t>(GgufTokenType::Normal));
  std::vector<double> scores(tok.scores.begin(), tok.scores.end());
  const bool spm = tok.model == "llama";
  if (spm) scores.resize(tokens.size(), 0.0);
  for (int64_t i = static_cast<int64_t>(tokens.size()); i < c.vocab_size; ++i) {
    tokens.push_back("[PAD" + std::to_string(i) + "]");
    types.push_back(static_cast<int64_t>(GgufTokenType::Unused));
    if (spm) scores.push_back(-1000.0);
  }
  m.emplace_back("tokenizer.ggml.model", GgufValue::string(tok.model));
  if (!tok.pre.empty()) m.emplace_back("tokenizer.ggml.pre", GgufValue::string(tok.pre));
  m.emplace_back("tokenizer.ggml.tokens", GgufValue::strings(std::move(tokens)));
  if (spm) m.emplace_back("tokenizer.ggml.scores", GgufValue::reals(GgufValueType::FLOAT32, std::move(scores)));
  m.emplace_back("tokenizer.ggml.token_type", GgufValue::integers(GgufValueType::INT32, std::move(types)));
  if (!spm) m.emplace_back("tokenizer.ggml.merges", GgufValue::strings(tok.merges));
  auto id = [&](const char* key, int64_t value) {
    if (value < 0) return;
    if (value >= c.vocab_size) fail(where, std::string(key) + " below vocab_size", std::to_string(value));
    m.emplace_back(key, u32(value));
  };
  id("tokenizer.ggml.bos_token_id", tok.bos_id);
  id("tokenizer.ggml.eos_token_id", tok.eos_id);
  id("tokenizer.ggml.unknown_token_id", tok.unk_id);
  id("tokenizer.ggml.padding_token_id", tok.pad_id);
  if (tok.add_bos >= 0) m.emplace_back("tokenizer.ggml.add_bos_token", GgufValue::boolean(tok.add_bos != 0));
  if (tok.add_eos >= 0) m.emplace_back("tokenizer.ggml.add_eos_token", GgufValue::boolean(tok.add_eos != 0));
  if (!tok.chat_template.empty()) m.emplace_back("tokenizer.chat_template", GgufValue::string(tok.chat_template));
  return m;
}

void write_gguf_model(const std::string& path, const ModelConfig& c, const GgufTokenizerData& tokenizer,
                      const std::vector<TensorBytes>& hf_tensors, GgmlType out_type, const std::string& name) {
  file_type(out_type);  // refuses other types before any work
  if (c.family == Family::Qwen2 && c.rope_scaling.type == "llama3")
    fail(path, "llama3 rope scaling only for Llama (llama.cpp's qwen2 has no rope factors)", "a Qwen2 model with it");
  GgufMetadata metadata = gguf_model_metadata(c, tokenizer, out_type, name);

  std::vector<Prepared> prepared;
  std::map<std::string, size_t> index;
  for (const auto& t : hf_tensors) {
    Mapped mapped = map_name(c.family, t.name, c.num_layers);
    if (mapped.gguf.empty()) continue;
    const std::string where = path + ": tensor '" + t.name + "'";
    if (index.count(mapped.gguf)) fail(where, "one source for '" + mapped.gguf + "'", "two");
    std::vector<int64_t> expected = resolve_shape(mapped.row->shape, c);
    if (t.shape != expected)
      fail(where, "shape " + shape_text(expected) + " (from the config)", shape_text(t.shape));
    std::vector<float> values = to_float32(t);
    std::vector<int64_t> shape = t.shape;
    const int64_t rows = shape[0], cols = shape.size() > 1 ? shape[1] : 1;
    if (mapped.row->layout == GgufLayout::Transpose) {
      std::vector<float> transposed(values.size());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < cols; ++k) transposed[k * rows + r] = values[r * cols + k];
      values.swap(transposed);
      shape = {cols, rows};
    } else if (mapped.row->layout == GgufLayout::RopeRows) {
      const bool is_q = starts_with(mapped.row->gguf, "attn_q");
      values = rope_rows(values, rows, cols, is_q ? c.num_heads : c.num_kv_heads, where);
    }
    index[mapped.gguf] = prepared.size();
    prepared.push_back(encode(mapped.gguf, values, shape, out_type));
  }

  // Every tensor llama.cpp's loader asks for must be there.
  auto require = [&](const std::string& gguf_name) {
    if (!index.count(gguf_name)) fail(path, "a source tensor for '" + gguf_name + "'", "none among the HF tensors");
  };
  const FamilyNames& names = family_names(c.family);
  for (const auto* rows : {&names.before, &names.after})
    for (const auto& row : *rows)
      if (*row.gguf && row.presence == Presence::Always) require(row.gguf);
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (const auto& row : names.layer)
      if (*row.gguf && is_present(row, c, true, false)) require("blk." + std::to_string(l) + "." + row.gguf);
  if (!index.count("output.weight")) {
    if (!c.tie_word_embeddings) fail(path, "lm_head.weight (the model's embeddings are not tied)", "none");
    // GPT-2's converter stores the tied head as its own tensor; llama/qwen2 leave it out and llama.cpp reuses
    // token_embd.
    if (c.family == Family::GPT2) {
      const Prepared& embd = prepared[index["token_embd.weight"]];
      Prepared output = embd;
      output.name = "output.weight";
      prepared.push_back(std::move(output));
    }
  }
  if (c.family == Family::Llama && c.rope_scaling.type == "llama3") {
    std::vector<float> factors = llama3_rope_factors(c);
    prepared.push_back(encode("rope_freqs.weight", factors, {static_cast<int64_t>(factors.size())}, out_type));
  }

  std::vector<GgufTensorData> tensors;
  for (const auto& p : prepared) tensors.push_back({p.name, p.type, p.dims, p.bytes.data(), p.bytes.size()});
  write_gguf(path, metadata, tensors);
}

void export_gguf(const std::string& model_dir, const std::string& out_path, GgmlType out_type, const std::string& pre,
                 const std::string& name) {
  ModelConfig config = load_model_config(model_dir + "/config.json");
  GgufTokenizerData tokenizer = gguf_tokenizer_from_hf_dir(model_dir, config, pre);
  std::vector<std::unique_ptr<SafetensorsFile>> shards;
  std::vector<TensorBytes> tensors;
  for (const auto& file : model_weight_files(model_dir)) {
    shards.push_back(std::make_unique<SafetensorsFile>(file));
    const SafetensorsFile& shard = *shards.back();
    for (const auto& info : shard.tensors())
      tensors.push_back({info.name, info.dtype, info.shape, shard.data(info), static_cast<size_t>(info.end - info.begin)});
  }
  std::string model_name = name;
  if (model_name.empty()) {
    std::string dir = model_dir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    model_name = dir.substr(dir.find_last_of('/') == std::string::npos ? 0 : dir.find_last_of('/') + 1);
  }
  write_gguf_model(out_path, config, tokenizer, tensors, out_type, model_name);
}

}  // namespace rlhf
