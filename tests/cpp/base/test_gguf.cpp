// GGUF writer and reader: round trips, hand-made corrupt files (built byte by byte from the spec, not by our writer),
// Q8_0's error bound and rounding rule, the model export's names, layouts and keys. The `gguf` package and llama.cpp
// check the same files from Python (tests/python/test_gguf*.py).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include "common/error.h"
#include "common/files.h"
#include "io/formats/gguf.h"
#include "io/formats/gguf_model.h"
#include "../error_of.h"

namespace rlhf {
namespace {

std::string temp_path(const std::string& name) {
  return "/tmp/rlhf_test_gguf_" + std::to_string(::getpid()) + "_" + name;
}

std::string parse_error(const std::string& bytes) {
  return error_of([&] { parse_gguf(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "t.gguf"); });
}

// A GGUF built by hand, field by field.
struct Bytes {
  std::string s;
  template <typename T>
  Bytes& put(T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  Bytes& str(const std::string& v) {
    put<uint64_t>(v.size());
    s += v;
    return *this;
  }
  Bytes& header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    s.append("GGUF");
    return put<uint32_t>(version).put<uint64_t>(tensors).put<uint64_t>(kvs);
  }
  Bytes& kv_u32(const std::string& key, uint32_t v) { return str(key).put<uint32_t>(4).put<uint32_t>(v); }
  Bytes& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(static_cast<uint32_t>(dims.size()));
    for (auto d : dims) put<uint64_t>(d);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  Bytes& pad(size_t alignment = 32) {
    s.append((alignment - s.size() % alignment) % alignment, '\0');
    return *this;
  }
  Bytes& zeros(size_t n) {
    s.append(n, '\0');
    return *this;
  }
};

TEST(Gguf, HandMadeFileReads) {
  Bytes b;
  b.header(2, 2).kv_u32("general.alignment", 32);
  b.str("general.name").put<uint32_t>(8).str("tiny");
  b.tensor("a", {4, 2}, 0, 0).tensor("b", {32}, 8, 32);
  b.pad();
  for (int i = 0; i < 8; ++i) b.put<float>(static_cast<float>(i));
  b.zeros(64);
  GgufHeader h = parse_gguf(reinterpret_cast<const unsigned char*>(b.s.data()), b.s.size(), "t.gguf");
  ASSERT_EQ(h.tensors.size(), 2u);
  EXPECT_EQ(gguf_find(h.metadata, "general.name")->as_string(), "tiny");
  EXPECT_EQ(h.tensors[0].dims, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(h.tensors[0].nbytes, 32u);
  EXPECT_EQ(h.tensors[1].type, GgmlType::Q8_0);
  EXPECT_EQ(h.tensors[1].nbytes, 34u);
  EXPECT_EQ(h.data_offset % 32, 0u);
  float third;
  std::memcpy(&third, b.s.data() + h.data_offset + 12, 4);
  EXPECT_EQ(third, 3.0f);
}

TEST(Gguf, RoundTripEveryValueTypeAndTensorType) {
  GgufMetadata m = {
      {"general.alignment", GgufValue::u32(64)},
      {"k.u8", GgufValue::u8(250)},
      {"k.i8", GgufValue::i8(-7)},
      {"k.u16", GgufValue::u16(65000)},
      {"k.i16", GgufValue::i16(-30000)},
      {"k.u32", GgufValue::u32(4000000000u)},
      {"k.i32", GgufValue::i32(-2000000000)},
      {"k.u64", GgufValue::u64(18000000000000000000ull)},
      {"k.i64", GgufValue::i64(-9000000000000000000ll)},
      {"k.f32", GgufValue::f32(1.5e-5f)},
      {"k.f64", GgufValue::f64(3.141592653589793)},
      {"k.bool", GgufValue::boolean(true)},
      {"k.string", GgufValue::string("héllo\nworld")},
      {"k.empty_string", GgufValue::string("")},
      {"k.strings", GgufValue::strings({"a", "", "Ġthe", "<|endoftext|>"})},
      {"k.i32s", GgufValue::integers(GgufValueType::INT32, {1, -2, 3})},
      {"k.u64s", GgufValue::integers(GgufValueType::UINT64, {0, 1ll << 40})},
      {"k.bools", GgufValue::integers(GgufValueType::BOOL, {1, 0, 1})},
      {"k.f32s", GgufValue::reals(GgufValueType::FLOAT32, {0.5, -1.25})},
      {"k.f64s", GgufValue::reals(GgufValueType::FLOAT64, {1e300})},
      {"k.empty", GgufValue::strings({})},
  };
  std::vector<float> f32(3 * 5);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = 0.25f * i - 1;
  std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x0001};
  std::vector<float> q_source(64);
  for (size_t i = 0; i < q_source.size(); ++i) q_source[i] = std::sin(0.3f * i);
  std::vector<uint8_t> q8 = quantize_q8_0(q_source.data(), q_source.size());
  std::vector<GgufTensorData> tensors = {
      {"w.f32", GgmlType::F32, {5, 3}, f32.data(), f32.size() * 4},
      {"w.f16", GgmlType::F16, {3}, f16.data(), 6},
      {"w.q8_0", GgmlType::Q8_0, {32, 2}, q8.data(), q8.size()},
  };
  const std::string path = temp_path("roundtrip.gguf");
  write_gguf(path, m, tensors);
  GgufFile file(path);
  EXPECT_EQ(file.header().version, 3u);
  EXPECT_EQ(file.header().alignment, 64u);
  EXPECT_EQ(file.header().data_offset % 64, 0u);
  ASSERT_EQ(file.metadata().size(), m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(file.metadata()[i].first, m[i].first);
    EXPECT_EQ(file.metadata()[i].second.describe(), m[i].second.describe()) << m[i].first;
  }
  EXPECT_EQ(file.at("k.u8").as_int(), 250);
  EXPECT_EQ(file.at("k.i8").as_int(), -7);
  EXPECT_EQ(file.at("k.u16").as_int(), 65000);
  EXPECT_EQ(file.at("k.i16").as_int(), -30000);
  EXPECT_EQ(file.at("k.u32").as_uint(), 4000000000u);
  EXPECT_EQ(file.at("k.i32").as_int(), -2000000000);
  EXPECT_EQ(file.at("k.u64").as_uint(), 18000000000000000000ull);
  EXPECT_EQ(file.at("k.i64").as_int(), -9000000000000000000ll);
  EXPECT_EQ(file.at("k.f32").as_double(), static_cast<double>(1.5e-5f));
  EXPECT_EQ(file.at("k.f64").as_double(), 3.141592653589793);
  EXPECT_TRUE(file.at("k.bool").as_bool());
  EXPECT_EQ(file.at("k.string").as_string(), "héllo\nworld");
  EXPECT_EQ(file.at("k.empty_string").as_string(), "");
  EXPECT_EQ(file.at("k.strings").as_strings(), (std::vector<std::string>{"a", "", "Ġthe", "<|endoftext|>"}));
  EXPECT_EQ(file.at("k.i32s").as_ints(), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(file.at("k.i32s").element_type(), GgufValueType::INT32);
  EXPECT_EQ(file.at("k.u64s").as_ints(), (std::vector<int64_t>{0, 1ll << 40}));
  EXPECT_EQ(file.at("k.bools").as_ints(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(file.at("k.f32s").as_reals(), (std::vector<double>{0.5, -1.25}));
  EXPECT_EQ(file.at("k.f64s").as_reals(), (std::vector<double>{1e300}));
  EXPECT_EQ(file.at("k.empty").array_size(), 0u);
  EXPECT_NE(error_of([&] { file.at("k.u8").as_string(); }).find("expected a string"), std::string::npos);
  EXPECT_NE(error_of([&] { file.at("nope"); }).find("nope"), std::string::npos);

  ASSERT_EQ(file.tensors().size(), 3u);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensorInfo& info = file.tensor(tensors[i].name);
    EXPECT_EQ(info.type, tensors[i].type);
    EXPECT_EQ(info.dims, tensors[i].dims);
    EXPECT_EQ(info.offset % 64, 0u);
    ASSERT_EQ(info.nbytes, tensors[i].nbytes);
    EXPECT_EQ(std::memcmp(file.data(info), tensors[i].data, info.nbytes), 0) << info.name;
  }
  EXPECT_EQ(file.to_float(file.tensor("w.f32")), f32);
  EXPECT_EQ(file.to_float(file.tensor("w.f16")), (std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24)}));
  EXPECT_EQ(file.to_float(file.tensor("w.q8_0")), dequantize_q8_0(q8.data(), 64));
  ::unlink(path.c_str());
}

TEST(Gguf, WriterRefusesInconsistentInput) {
  std::vector<float> x(4);
  const std::string path = temp_path("bad.gguf");
  EXPECT_NE(error_of([&] { write_gguf(path, {}, {{"a", GgmlType::F32, {3}, x.data(), 16}}); }).find("12 bytes"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              write_gguf(path, {}, {{"a", GgmlType::F32, {4}, x.data(), 16}, {"a", GgmlType::F32, {4}, x.data(), 16}});
            }).find("unique tensor names"),
            std::string::npos);
  EXPECT_NE(error_of([&] { write_gguf(path, {}, {{"a", GgmlType::Q8_0, {4}, x.data(), 16}}); }).find("multiple of 32"),
            std::string::npos);
  EXPECT_NE(error_of([&] { write_gguf(path, {{"general.alignment", GgufValue::u32(24)}}, {}); }).find("power of two"),
            std::string::npos);
  EXPECT_NE(error_of([&] { write_gguf(path, {{"k", GgufValue::u8(1)}, {"k", GgufValue::u8(2)}}, {}); })
                .find("unique metadata keys"),
            std::string::npos);
  EXPECT_FALSE(file_exists(path));
}

// Every corrupt file gives an rlhf::Error whose message says what was wrong.
TEST(Gguf, CorruptFilesGiveClearErrors) {
  auto expect = [](const std::string& bytes, const std::string& needle) {
    std::string message = parse_error(bytes);
    EXPECT_NE(message.find(needle), std::string::npos) << "wanted '" << needle << "' in: " << message;
    EXPECT_NE(message.find("t.gguf"), std::string::npos) << message;
  };
  expect("", "truncated");
  expect("GGU", "truncated");
  expect(Bytes().header(0, 0).s.replace(0, 4, "GGML"), "magic");
  expect(Bytes().header(0, 0, 4).s, "version");
  expect(Bytes().header(0, 1ull << 60).s, "metadata count");
  expect(Bytes().header(1ull << 60, 0).s, "tensor count");
  // A key whose length runs far past the end of the file.
  expect(Bytes().header(0, 1).put<uint64_t>(1ull << 40).s + std::string(16, 'x'), "truncated");
  expect(Bytes().header(0, 1).str("").put<uint32_t>(0).put<uint8_t>(0).s, "empty");
  expect(Bytes().header(0, 1).str("k").put<uint32_t>(13).put<uint8_t>(0).s, "value type 0..12");
  expect(Bytes().header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2).s, "bool 0 or 1");
  expect(Bytes().header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(1000).s + "abc", "truncated");
  // Arrays: a count that cannot fit, an element string past the end, nested arrays.
  expect(Bytes().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1ull << 62).s, "element count");
  expect(Bytes().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(1).put<uint64_t>(99).s,
         "truncated");
  expect(Bytes().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(0).s, "arrays");
  expect(Bytes().header(0, 2).kv_u32("k", 1).kv_u32("k", 2).s, "unique metadata keys");
  expect(Bytes().header(0, 1).str("general.alignment").put<uint32_t>(10).put<uint64_t>(32).s, "u32");
  expect(Bytes().header(0, 1).kv_u32("general.alignment", 48).s, "power of two");
  // Tensor infos.
  expect(Bytes().header(1, 0).tensor("t", {}, 0, 0).pad().zeros(32).s, "1 to 4 dimensions");
  expect(Bytes().header(1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0).pad().zeros(32).s, "1 to 4 dimensions");
  expect(Bytes().header(1, 0).tensor("t", {4}, 99, 0).pad().zeros(32).s, "known ggml type");
  expect(Bytes().header(1, 0).tensor("t", {16}, 8, 0).pad().zeros(64).s, "multiple of 32");
  expect(Bytes().header(1, 0).tensor("t", {1ull << 40, 1ull << 40}, 0, 0).pad().zeros(32).s, "int64");
  expect(Bytes().header(1, 0).tensor("t", {4}, 0, 8).pad().zeros(64).s, "aligned to 32");
  expect(Bytes().header(1, 0).tensor("t", {4}, 0, 64).pad().zeros(32).s, "past the end");
  expect(Bytes().header(1, 0).tensor("t", {1024}, 0, 0).pad().zeros(32).s, "past the end");
  expect(Bytes().header(1, 0).tensor(std::string(64, 'n'), {4}, 0, 0).pad().zeros(32).s, "63 bytes");
  expect(Bytes().header(2, 0).tensor("t", {4}, 0, 0).tensor("t", {4}, 0, 32).pad().zeros(64).s, "unique tensor names");
  expect(Bytes().header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {4}, 0, 32).pad().zeros(64).s, "overlap");
  // Tensor infos that end where the data should begin.
  expect(Bytes().header(1, 0).tensor("t", {4}, 0, 0).s, "truncated");
}

// Every prefix of a valid file (up to the end of its last tensor's data) is an error, never a crash.
TEST(Gguf, EveryTruncationIsAnError) {
  std::vector<float> values(40, 1.0f);
  std::vector<uint8_t> q8 = quantize_q8_0(values.data(), 32);
  const std::string path = temp_path("truncate.gguf");
  write_gguf(path,
             {{"general.name", GgufValue::string("x")}, {"a", GgufValue::strings({"one", "two"})},
              {"b", GgufValue::reals(GgufValueType::FLOAT32, {1, 2})}},
             {{"w", GgmlType::F32, {8}, values.data(), 32}, {"q", GgmlType::Q8_0, {32}, q8.data(), q8.size()}});
  const std::string bytes = read_file(path);
  GgufHeader h = parse_gguf(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "t.gguf");
  const size_t end = h.data_offset + h.tensors[1].offset + h.tensors[1].nbytes;
  for (size_t n = 0; n < end; ++n) EXPECT_NE(parse_error(bytes.substr(0, n)), "") << "prefix of " << n << " bytes";
  ::unlink(path.c_str());
}

TEST(Gguf, Q8_0RoundsHalfAwayFromZeroWithAnFp16Scale) {
  // max |x| = 127 gives d = 1, so q = round(x) exactly, halves away from zero.
  std::vector<float> x(32, 0.0f);
  x[0] = 127, x[1] = 2.5f, x[2] = -2.5f, x[3] = 0.49f, x[4] = -127, x[5] = 3.5f;
  std::vector<uint8_t> q = quantize_q8_0(x.data(), 32);
  ASSERT_EQ(q.size(), 34u);
  uint16_t scale;
  std::memcpy(&scale, q.data(), 2);
  EXPECT_EQ(scale, 0x3c00);  // 1.0 in fp16
  std::vector<int> got;
  for (int j = 0; j < 6; ++j) got.push_back(static_cast<int8_t>(q[2 + j]));
  EXPECT_EQ(got, (std::vector<int>{127, 3, -3, 0, -127, 4}));
  // An all-zero block has scale 0 and decodes to zeros.
  std::vector<float> zero(32, 0.0f);
  EXPECT_EQ(dequantize_q8_0(quantize_q8_0(zero.data(), 32).data(), 32), zero);
  EXPECT_NE(error_of([&] { quantize_q8_0(x.data(), 31); }).find("multiple of 32"), std::string::npos);
  x[7] = NAN;
  EXPECT_NE(error_of([&] { quantize_q8_0(x.data(), 32); }).find("finite"), std::string::npos);
}

TEST(Gguf, Q8_0ErrorBound) {
  std::mt19937 rng(7);
  for (float scale : {1e-4f, 0.02f, 1.0f, 300.0f}) {
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> x(32 * 64);
    for (auto& v : x) v = normal(rng);
    std::vector<float> y = dequantize_q8_0(quantize_q8_0(x.data(), x.size()).data(), x.size());
    for (size_t b = 0; b < x.size() / 32; ++b) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
      // Half a step of d = amax/127, plus the fp16 rounding of d times |q| <= 127: relative 2^-11 for a normal fp16,
      // absolute 2^-25 (half the subnormal spacing) below 2^-14, where small weights' scales land.
      const float d = amax / 127;
      const float bound = (0.5f * d + 127 * std::max(d / 2048, std::ldexp(1.0f, -25))) * 1.0001f;
      for (int j = 0; j < 32; ++j) EXPECT_LE(std::fabs(x[32 * b + j] - y[32 * b + j]), bound);
    }
  }
}

TEST(GgufModel, TensorNames) {
  EXPECT_EQ(gguf_tensor_name(Family::Llama, "model.embed_tokens.weight"), "token_embd.weight");
  EXPECT_EQ(gguf_tensor_name(Family::Llama, "model.layers.12.self_attn.q_proj.weight"), "blk.12.attn_q.weight");
  EXPECT_EQ(gguf_tensor_name(Family::Qwen2, "model.layers.0.self_attn.k_proj.bias"), "blk.0.attn_k.bias");
  EXPECT_EQ(gguf_tensor_name(Family::Llama, "model.layers.3.mlp.down_proj.weight"), "blk.3.ffn_down.weight");
  EXPECT_EQ(gguf_tensor_name(Family::Llama, "model.layers.3.post_attention_layernorm.weight"), "blk.3.ffn_norm.weight");
  EXPECT_EQ(gguf_tensor_name(Family::Llama, "model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(gguf_tensor_name(Family::Llama, "lm_head.weight"), "output.weight");
  EXPECT_EQ(gguf_tensor_name(Family::Llama, "model.layers.0.self_attn.rotary_emb.inv_freq"), "");
  EXPECT_EQ(gguf_tensor_name(Family::GPT2, "transformer.wte.weight"), "token_embd.weight");
  EXPECT_EQ(gguf_tensor_name(Family::GPT2, "wpe.weight"), "position_embd.weight");
  EXPECT_EQ(gguf_tensor_name(Family::GPT2, "transformer.h.1.attn.c_attn.weight"), "blk.1.attn_qkv.weight");
  EXPECT_EQ(gguf_tensor_name(Family::GPT2, "h.1.mlp.c_fc.bias"), "blk.1.ffn_up.bias");
  EXPECT_EQ(gguf_tensor_name(Family::GPT2, "transformer.h.0.ln_2.weight"), "blk.0.ffn_norm.weight");
  EXPECT_EQ(gguf_tensor_name(Family::GPT2, "transformer.h.0.attn.bias"), "");
  EXPECT_NE(error_of([] { gguf_tensor_name(Family::Llama, "model.layers.0.self_attn.q_norm.weight"); })
                .find("unknown name"),
            std::string::npos);
  EXPECT_NE(error_of([] { gguf_tensor_name(Family::GPT2, "score.weight"); }).find("score.weight"), std::string::npos);
}

// A tiny model through write_gguf_model: layouts checked against their definitions element by element.
struct TinyModel {
  ModelConfig config;
  std::vector<std::vector<float>> storage;
  std::vector<TensorBytes> tensors;
  void add(const std::string& name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(storage.size() * 1000 + i) / 1024.0f;
    storage.push_back(std::move(v));
    tensors.push_back({name, DType::F32, shape, nullptr, static_cast<size_t>(n) * 4});
  }
  void bind() {
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = storage[i].data();
  }
};

GgufTokenizerData tiny_tokenizer(int64_t n) {
  GgufTokenizerData t;
  t.model = "gpt2";
  t.pre = "gpt-2";
  for (int64_t i = 0; i < n; ++i) t.tokens.push_back("t" + std::to_string(i));
  t.merges = {"t 1"};
  t.eos_id = 0;
  return t;
}

TEST(GgufModel, LlamaLayoutsAndKeys) {
  TinyModel m;
  m.config = tiny_config("llama", 40, 16, 1, 4, 2, 64);  // head_dim 4, kv_dim 8
  m.config.intermediate_size = 32;
  const auto& c = m.config;
  m.add("model.embed_tokens.weight", {40, 16});
  m.add("model.norm.weight", {16});
  const std::string l = "model.layers.0.";
  m.add(l + "input_layernorm.weight", {16});
  m.add(l + "post_attention_layernorm.weight", {16});
  m.add(l + "self_attn.q_proj.weight", {16, 16});
  m.add(l + "self_attn.k_proj.weight", {8, 16});
  m.add(l + "self_attn.v_proj.weight", {8, 16});
  m.add(l + "self_attn.o_proj.weight", {16, 16});
  m.add(l + "mlp.gate_proj.weight", {32, 16});
  m.add(l + "mlp.up_proj.weight", {32, 16});
  m.add(l + "mlp.down_proj.weight", {16, 32});
  m.bind();
  const std::string path = temp_path("llama.gguf");
  write_gguf_model(path, c, tiny_tokenizer(30), m.tensors, GgmlType::F32, "tiny");
  GgufFile f(path);
  EXPECT_EQ(f.at("general.architecture").as_string(), "llama");
  EXPECT_EQ(f.at("llama.block_count").as_uint(), 1u);
  EXPECT_EQ(f.at("llama.attention.head_count_kv").as_uint(), 2u);
  EXPECT_EQ(f.at("llama.rope.dimension_count").as_uint(), 4u);
  EXPECT_EQ(f.at("general.file_type").as_uint(), 0u);
  // The vocabulary is padded to vocab_size with unused tokens.
  ASSERT_EQ(f.at("tokenizer.ggml.tokens").as_strings().size(), 40u);
  EXPECT_EQ(f.at("tokenizer.ggml.tokens").as_strings()[35], "[PAD35]");
  EXPECT_EQ(f.at("tokenizer.ggml.token_type").as_ints()[35], 5);
  EXPECT_FALSE(f.find_tensor("output.weight"));  // tied: llama.cpp reuses token_embd
  // q rows: head h, half p, index i (HF) lands on row h*4 + i*2 + p; k the same with its 2 heads.
  const auto& q = f.tensor("blk.0.attn_q.weight");
  EXPECT_EQ(q.dims, (std::vector<uint64_t>{16, 16}));
  std::vector<float> got = f.to_float(q);
  const std::vector<float>& src = m.storage[4];
  for (int h = 0; h < 4; ++h)
    for (int p = 0; p < 2; ++p)
      for (int i = 0; i < 2; ++i)
        for (int col = 0; col < 16; ++col)
          EXPECT_EQ(got[(h * 4 + i * 2 + p) * 16 + col], src[(h * 4 + p * 2 + i) * 16 + col]);
  std::vector<float> k = f.to_float(f.tensor("blk.0.attn_k.weight"));
  EXPECT_EQ(k[(1 * 4 + 1 * 2 + 0) * 16 + 3], m.storage[5][(1 * 4 + 0 * 2 + 1) * 16 + 3]);
  EXPECT_EQ(f.to_float(f.tensor("blk.0.attn_v.weight")), m.storage[6]);  // v is not permuted
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").dims, (std::vector<uint64_t>{32, 16}));

  // F16 and Q8_0: matrices change type, norms stay F32.
  write_gguf_model(path, c, tiny_tokenizer(30), m.tensors, GgmlType::Q8_0, "tiny");
  GgufFile q8(path);
  EXPECT_EQ(q8.at("general.file_type").as_uint(), 7u);
  EXPECT_EQ(q8.tensor("blk.0.ffn_up.weight").type, GgmlType::F16);   // rows of 16: not whole Q8_0 blocks
  EXPECT_EQ(q8.tensor("blk.0.ffn_down.weight").type, GgmlType::Q8_0);  // rows of 32
  EXPECT_EQ(q8.tensor("blk.0.attn_norm.weight").type, GgmlType::F32);

  // Missing and misshapen tensors are named.
  auto missing = m.tensors;
  missing.erase(missing.begin() + 8);
  EXPECT_NE(error_of([&] { write_gguf_model(path, c, tiny_tokenizer(30), missing, GgmlType::F32); })
                .find("blk.0.ffn_gate.weight"),
            std::string::npos);
  auto wrong = m.tensors;
  wrong[5].shape = {16, 8};
  EXPECT_NE(error_of([&] { write_gguf_model(path, c, tiny_tokenizer(30), wrong, GgmlType::F32); }).find("[8, 16]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { write_gguf_model(path, c, tiny_tokenizer(41), m.tensors, GgmlType::F32); })
                .find("at most vocab_size"),
            std::string::npos);
  ::unlink(path.c_str());
}

// llama.cpp sizes the embedding from the token list, which the export pads to config.json's vocab_size: an id past it
// is refused with the file, the token and the limit (it used to be allowed up to 2^24 and fail later, or allocate).
TEST(GgufModel, TokenIdsPastVocabSizeAreRefusedNamingTheToken) {
  const std::string dir = temp_path("vocab-dir");
  make_dirs(dir);
  write_file_atomic(dir + "/tokenizer.json",
                    R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "big": 40}, "merges": ["a b"]},
                        "pre_tokenizer": {"type": "ByteLevel"}})");
  ModelConfig c;
  c.vocab_size = 41;  // the highest id fits: the list is padded up to it
  GgufTokenizerData fits = gguf_tokenizer_from_hf_dir(dir, c, "");
  ASSERT_EQ(fits.tokens.size(), 41u);
  EXPECT_EQ(fits.tokens[40], "big");
  EXPECT_EQ(fits.tokens[2], "[PAD2]");
  c.vocab_size = 40;
  EXPECT_EQ(error_of([&] { gguf_tokenizer_from_hf_dir(dir, c, ""); }),
            dir + "/tokenizer.json: expected token ids from 0 to 39 (config.json's vocab_size 40: the model has no "
                  "embedding row past it), found 'big' with id 40");
  // An id near 2^63 is refused before anything is allocated for it; so is an added token's, and vocab.json's.
  write_file_atomic(dir + "/tokenizer.json",
                    R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"},
                        "added_tokens": [{"id": 9223372036854775807, "content": "<x>", "special": true}]})");
  EXPECT_NE(error_of([&] { gguf_tokenizer_from_hf_dir(dir, c, ""); }).find("found '<x>' with id 9223372036854775807"),
            std::string::npos);
  ::unlink((dir + "/tokenizer.json").c_str());
  write_file_atomic(dir + "/vocab.json", R"({"a": 0, "b": -1})");
  write_file_atomic(dir + "/merges.txt", "#version: 0.2\na b\n");
  EXPECT_NE(error_of([&] { gguf_tokenizer_from_hf_dir(dir, c, ""); }).find("vocab.json: expected token ids from 0 to 39"),
            std::string::npos);
  remove_tree(dir);
}

TEST(GgufModel, Gpt2TransposesConv1DAndDuplicatesTheTiedHead) {
  TinyModel m;
  m.config = tiny_config("gpt2", 24, 8, 1, 2, 2, 16);  // intermediate 32
  m.add("transformer.wte.weight", {24, 8});
  m.add("transformer.wpe.weight", {16, 8});
  m.add("transformer.ln_f.weight", {8});
  m.add("transformer.ln_f.bias", {8});
  const std::string h = "transformer.h.0.";
  for (const char* n : {"ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias", "attn.c_proj.bias", "mlp.c_proj.bias"})
    m.add(h + n, {8});
  m.add(h + "attn.c_attn.weight", {8, 24});
  m.add(h + "attn.c_attn.bias", {24});
  m.add(h + "attn.c_proj.weight", {8, 8});
  m.add(h + "mlp.c_fc.weight", {8, 32});
  m.add(h + "mlp.c_fc.bias", {32});
  m.add(h + "mlp.c_proj.weight", {32, 8});
  m.bind();
  const std::string path = temp_path("gpt2.gguf");
  write_gguf_model(path, m.config, tiny_tokenizer(24), m.tensors, GgmlType::F16);
  GgufFile f(path);
  EXPECT_EQ(f.at("gpt2.attention.layer_norm_epsilon").type(), GgufValueType::FLOAT32);
  const auto& qkv = f.tensor("blk.0.attn_qkv.weight");
  EXPECT_EQ(qkv.dims, (std::vector<uint64_t>{8, 24}));  // Linear [out 24, in 8]
  EXPECT_EQ(qkv.type, GgmlType::F16);
  std::vector<float> got = f.to_float(qkv);
  const std::vector<float>& src = m.storage[10];  // HF [in 8, out 24]
  for (int out = 0; out < 24; ++out)
    for (int in = 0; in < 8; ++in) EXPECT_EQ(got[out * 8 + in], half_to_float(float_to_half(src[in * 24 + out])));
  EXPECT_EQ(f.tensor("position_embd.weight").type, GgmlType::F32);
  EXPECT_EQ(f.tensor("blk.0.attn_qkv.bias").type, GgmlType::F32);
  EXPECT_EQ(f.to_float(f.tensor("output.weight")), f.to_float(f.tensor("token_embd.weight")));
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace rlhf
