// safetensors: round trip through our writer and reader, and hand-made corrupt files that must each give a clear
// rlhf::Error (never a crash). The Python side (test_model_parity.py) checks files written by the real library.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "../error_of.h"
#include "io/formats/safetensors.h"

namespace rlhf {
namespace {

std::string temp_path(const std::string& name) { return testing::TempDir() + "/st_" + name + ".safetensors"; }

// A file with the given JSON header (padded to 8 bytes) and `data_bytes` bytes of data.
std::string write_raw(const std::string& name, const std::string& header, size_t data_bytes, int64_t length_override = -1) {
  std::string path = temp_path(name);
  std::ofstream out(path, std::ios::binary);
  uint64_t n = length_override >= 0 ? static_cast<uint64_t>(length_override) : header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << std::string(data_bytes, '\0');
  return path;
}

TEST(Safetensors, RoundTrip) {
  std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  std::vector<uint16_t> b = {float_to_bf16(1.0f), float_to_bf16(-0.5f)};
  std::string path = temp_path("roundtrip");
  write_safetensors(path, {{"a", DType::F32, {2, 3}, a.data(), a.size() * 4}, {"b", DType::BF16, {2}, b.data(), 4}},
                    {{"format", "pt"}});
  SafetensorsFile file(path);
  ASSERT_EQ(file.tensors().size(), 2u);
  const auto& info = file.at("a");
  EXPECT_EQ(info.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(file.data(info), a.data(), 24), 0);
  EXPECT_EQ(bf16_to_float(reinterpret_cast<const uint16_t*>(file.data(file.at("b")))[1]), -0.5f);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_THROW(file.at("missing"), Error);
}

TEST(Safetensors, HalfConversionsRoundToNearestEven) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f}) EXPECT_EQ(half_to_float(float_to_half(f)), f);
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), float_to_half(1.0f));  // a tie rounds to the even mantissa
  EXPECT_EQ(bf16_to_float(float_to_bf16(3.0f)), 3.0f);
}

struct Corrupt {
  const char* name;
  std::string header;
  size_t data_bytes;
  int64_t length_override;
  const char* expected;  // a piece of the message
};

TEST(Safetensors, CorruptFilesGiveClearErrors) {
  const std::vector<Corrupt> cases = {
      {"truncated", "", 0, -2, "at least 8 bytes"},
      {"header_past_end", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4, 4096, "header length within the file"},
      {"offsets_out_of_range", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4, -1, "within the data buffer"},
      {"overlap", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12, -1, "overlap"},
      {"size_mismatch", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, -1, "shape × dtype size"},
      {"unknown_dtype", R"({"a":{"dtype":"F7","shape":[1],"data_offsets":[0,1]}})", 1, -1, "known dtype"},
      {"invalid_json", R"({"a":{"dtype":"F32",)", 0, -1, "invalid JSON"},
      {"not_an_object", R"([1,2,3])", 0, -1, "JSON object"},
      {"negative_dim", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, -1, "non-negative"},
      {"bad_offsets", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}})", 4, -1, "data_offsets"},
  };
  for (const auto& c : cases) {
    std::string path;
    if (c.length_override == -2) {
      path = temp_path(c.name);
      std::ofstream(path, std::ios::binary) << "abc";
    } else {
      path = write_raw(c.name, c.header, c.data_bytes, c.length_override);
    }
    std::string message = error_of([&] { SafetensorsFile file(path); });
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.name << ": " << message;
    EXPECT_NE(message.find(path), std::string::npos) << c.name << ": the message names the file: " << message;
  }
}

}  // namespace
}  // namespace rlhf
