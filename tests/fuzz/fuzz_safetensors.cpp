// safetensors header reader (io/formats/safetensors.h): any bytes as a .safetensors file. Accepted files must keep the
// promises model loading relies on (torch::from_blob(data(t), t.shape) reads exactly the tensor's bytes).
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "io/formats/safetensors.h"

using namespace rlhf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::MemoryFile file(data, size);
  fuzz::accepts([&] {
    SafetensorsFile st(file.path());
    uint64_t header_length = 0;
    std::memcpy(&header_length, data, 8);  // accepted: at least 8 bytes, the header inside the file
    const uint64_t data_start = 8 + header_length;
    uint64_t checksum = 0;
    for (const auto& t : st.tensors()) {
      const uint64_t bytes = t.end - t.begin;
      FUZZ_EXPECT(t.begin <= t.end && data_start + t.end <= size);
      // In division form: a product could wrap around and agree by accident.
      const uint64_t numel = static_cast<uint64_t>(t.numel()), element = dtype_size(t.dtype);
      FUZZ_EXPECT(t.numel() >= 0 && bytes % element == 0 && bytes / element == numel);
      FUZZ_EXPECT(st.find(t.name) == &t || st.find(t.name)->begin == t.begin);
      const unsigned char* p = st.data(t);
      for (uint64_t i = 0; i < bytes; ++i) checksum += p[i];  // touches every byte (out of the map: a crash)
    }
    for (const auto& [key, value] : st.metadata()) checksum += key.size() + value.size();
    (void)checksum;
  });
  return 0;
}

// libFuzzer's byte-level mutation (the replay build has a stand-in that changes nothing).
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

const char* const kDeep = "@@deep@@";  // a placeholder mutate_header leaves for a value nested 200-2200 levels

// Values a reader must bound: zero, one, the sign, the 32- and 64-bit edges, the data section's size and one past it.
int64_t interesting(std::mt19937_64& rng, int64_t data_size) {
  const int64_t values[] = {0, 1, -1, 2, 3, 255, 4096, INT32_MAX, int64_t{1} << 32, (int64_t{1} << 32) + 1,
                            INT64_MAX, INT64_MIN, data_size, data_size + 1, data_size / 2};
  return values[rng() % (sizeof values / sizeof values[0])];
}

// One change a reader relies on not happening, made to a parsed header: a tensor's dtype, a dimension, the rank, an
// offset, a duplicated or missing entry, a value nested deeper than any reader allows, a metadata value that is not a
// string. Returns false when the header has no tensor to change.
bool mutate_header(nlohmann::json& header, std::mt19937_64& rng, int64_t data_size) {
  std::vector<std::string> names;
  for (const auto& item : header.items())
    if (item.key() != "__metadata__" && item.value().is_object()) names.push_back(item.key());
  if (names.empty()) return false;
  nlohmann::json& tensor = header[names[rng() % names.size()]];
  static const char* dtypes[] = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "", "f32"};
  switch (rng() % 8) {
    case 0: tensor["dtype"] = dtypes[rng() % (sizeof dtypes / sizeof dtypes[0])]; break;
    case 1:
      if (tensor["shape"].is_array() && !tensor["shape"].empty())
        tensor["shape"][rng() % tensor["shape"].size()] = interesting(rng, data_size);
      break;
    case 2:
      if (!tensor["shape"].is_array()) tensor["shape"] = nlohmann::json::array();
      if (rng() % 2 && !tensor["shape"].empty()) tensor["shape"].erase(tensor["shape"].size() - 1);
      else tensor["shape"].push_back(interesting(rng, data_size));
      break;
    case 3:
      if (tensor["data_offsets"].is_array() && tensor["data_offsets"].size() == 2)
        tensor["data_offsets"][rng() % 2] = interesting(rng, data_size);
      break;
    case 4: header[names[0] + "." + std::to_string(rng() % 4)] = tensor; break;  // a second tensor over the same bytes
    case 5: header.erase(names[rng() % names.size()]); break;
    case 6:  // past the nesting limit (256): spliced in as text after dump() (kDeep), a reader must not recurse on it
      (rng() % 2 ? tensor["shape"] : tensor["dtype"]) = kDeep;
      break;
    default: header["__metadata__"] = {{"format", rng() % 2 ? nlohmann::json(7) : nlohmann::json::object()}}; break;
  }
  return true;
}

}  // namespace

// Structure-aware mutation: byte flips almost never keep the header valid JSON, so most of libFuzzer's inputs stop at
// the JSON parser and the checks behind it (dtype x shape = bytes, offsets inside the file, duplicates) are seldom
// reached. One time in eight the bytes are mutated as libFuzzer would; otherwise the header is parsed, one thing a
// reader relies on is changed, and the file is written back with its data section (sometimes with the header's length
// off by a little, or the data cut short).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::mt19937_64 rng(seed);
  uint64_t header_length = 0;
  if (size >= 8) std::memcpy(&header_length, data, 8);
  if (size < 8 || header_length > size - 8 || rng() % 8 == 0) return LLVMFuzzerMutate(data, size, max_size);
  nlohmann::json header = nlohmann::json::parse(data + 8, data + 8 + header_length, nullptr, false);
  std::string body(reinterpret_cast<const char*>(data) + 8 + header_length, size - 8 - header_length);
  if (header.is_discarded() || !header.is_object() ||
      !mutate_header(header, rng, static_cast<int64_t>(body.size())))
    return LLVMFuzzerMutate(data, size, max_size);
  if (rng() % 16 == 0 && !body.empty()) body.resize(rng() % body.size());
  std::string text = header.dump();
  const std::string placeholder = nlohmann::json(kDeep).dump();
  if (const size_t at = text.find(placeholder); at != std::string::npos) {
    const size_t levels = 200 + rng() % 2000;
    text.replace(at, placeholder.size(), std::string(levels, '[') + "1" + std::string(levels, ']'));
  }
  uint64_t written_length = text.size();
  if (rng() % 16 == 0) written_length += static_cast<uint64_t>(static_cast<int64_t>(rng() % 17) - 8);
  if (8 + text.size() + body.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, &written_length, 8);
  std::memcpy(data + 8, text.data(), text.size());
  std::memcpy(data + 8 + text.size(), body.data(), body.size());
  return 8 + text.size() + body.size();
}
