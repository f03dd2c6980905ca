// GGUF v3, from the public spec (ggml's docs/gguf.md): little-endian throughout.
//   header:       u32 magic "GGUF", u32 version, u64 tensor_count, u64 kv_count
//   metadata:     kv_count × (string key, u32 value type, value); a string is u64 length + bytes (no NUL); an array is
//                 u32 element type, u64 count, elements
//   tensor infos: tensor_count × (string name, u32 n_dims, u64 dims[n_dims] innermost first, u32 ggml type,
//                 u64 offset relative to the data section, a multiple of the alignment)
//   padding to `general.alignment` (u32, default 32), then the data section.
// The reader checks every count, length and offset against the file size before it allocates or reads (a fuzz target);
// tensor data stays in the memory map. No torch here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/files.h"

namespace rlhf {

enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
  UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
std::string gguf_value_type_name(GgufValueType type);

// ggml tensor types (the numbers are ggml's). We write F32, F16 and Q8_0; the reader knows the sizes of all the usual ones.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9, Q2_K = 10, Q3_K = 11, Q4_K = 12,
  Q5_K = 13, Q6_K = 14, Q8_K = 15, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
};
bool ggml_type_known(uint32_t type);
std::string ggml_type_name(GgmlType type);  // "F32", "Q8_0", ...
bool parse_ggml_type(const std::string& name, GgmlType* out);  // case-insensitive: "f32" "f16" "q8_0" ...
// Bytes of a tensor with `dims` (ggml order); error if dims[0] is not a multiple of the block size.
uint64_t ggml_nbytes(GgmlType type, const std::vector<uint64_t>& dims);

// One metadata value. Integers of every width are held as int64 (UINT64 keeps its bits), floats as double (exact for
// FLOAT32), bools as 0/1. Arrays hold one element type (nested arrays are refused: llama.cpp does not read them).
class GgufValue {
 public:
  GgufValue() = default;
  static GgufValue u8(uint8_t v) { return integer(GgufValueType::UINT8, v); }
  static GgufValue i8(int8_t v) { return integer(GgufValueType::INT8, v); }
  static GgufValue u16(uint16_t v) { return integer(GgufValueType::UINT16, v); }
  static GgufValue i16(int16_t v) { return integer(GgufValueType::INT16, v); }
  static GgufValue u32(uint32_t v) { return integer(GgufValueType::UINT32, v); }
  static GgufValue i32(int32_t v) { return integer(GgufValueType::INT32, v); }
  static GgufValue u64(uint64_t v) { return integer(GgufValueType::UINT64, static_cast<int64_t>(v)); }
  static GgufValue i64(int64_t v) { return integer(GgufValueType::INT64, v); }
  static GgufValue f32(float v) { return real(GgufValueType::FLOAT32, v); }
  static GgufValue f64(double v) { return real(GgufValueType::FLOAT64, v); }
  static GgufValue boolean(bool v) { return integer(GgufValueType::BOOL, v ? 1 : 0); }
  static GgufValue string(std::string v);
  static GgufValue strings(std::vector<std::string> v);
  static GgufValue integers(GgufValueType element, std::vector<int64_t> v);  // element: an integer type or BOOL
  static GgufValue reals(GgufValueType element, std::vector<double> v);      // element: FLOAT32 or FLOAT64

  GgufValueType type() const { return type_; }
  GgufValueType element_type() const { return element_; }  // arrays only
  bool is_array() const { return type_ == GgufValueType::ARRAY; }
  uint64_t array_size() const;

  // Typed access; the wrong type is an rlhf::Error naming both types.
  int64_t as_int() const;      // any integer type or BOOL
  uint64_t as_uint() const;    // any integer type (UINT64 in full)
  double as_double() const;    // FLOAT32 / FLOAT64
  bool as_bool() const;
  const std::string& as_string() const;
  const std::vector<std::string>& as_strings() const;
  const std::vector<int64_t>& as_ints() const;
  const std::vector<double>& as_reals() const;
  std::string describe() const;  // short, for error messages and dumps: `u32 4096`, `[string × 50257]`

 private:
  static GgufValue integer(GgufValueType type, int64_t v);
  static GgufValue real(GgufValueType type, double v);
  GgufValueType type_ = GgufValueType::UINT8;
  GgufValueType element_ = GgufValueType::UINT8;
  int64_t int_ = 0;
  double real_ = 0;
  std::string string_;
  std::vector<std::string> strings_;
  std::vector<int64_t> ints_;
  std::vector<double> reals_;
};

// Metadata in file order (the order is kept so that a file round-trips as written).
using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;
const GgufValue* gguf_find(const GgufMetadata& metadata, const std::string& key);

// What the reader (gguf.cpp) and the writer (gguf_writer.cpp) share: the magic, the longest tensor name, the alignment
// the metadata sets (general.alignment, a u32 power of two up to 2^20; 32 without it) and the padding to it.
constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr size_t kGgufMaxTensorName = 63;    // GGML_MAX_NAME is 64 with the NUL
uint64_t gguf_alignment(const GgufMetadata& metadata, const std::string& where);
inline uint64_t gguf_align_up(uint64_t offset, uint64_t alignment) {
  return (offset + alignment - 1) / alignment * alignment;
}
inline bool gguf_is_real(GgufValueType t) { return t == GgufValueType::FLOAT32 || t == GgufValueType::FLOAT64; }

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order: dims[0] is the innermost (row length); a Linear [out, in] is {in, out}
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t nbytes = 0;
  uint64_t numel() const;
};

// The parsed header of a GGUF held in memory. `where` names the source in errors (a path).
struct GgufHeader {
  uint32_t version = 3;
  uint64_t alignment = 32;
  GgufMetadata metadata;
  std::vector<GgufTensorInfo> tensors;
  uint64_t data_offset = 0;  // absolute offset of the data section
};
GgufHeader parse_gguf(const unsigned char* data, size_t size, const std::string& where);

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);
  const std::string& path() const { return map_->path(); }
  const GgufHeader& header() const { return header_; }
  const GgufMetadata& metadata() const { return header_.metadata; }
  const std::vector<GgufTensorInfo>& tensors() const { return header_.tensors; }
  const GgufValue* find(const std::string& key) const { return gguf_find(header_.metadata, key); }
  const GgufValue& at(const std::string& key) const;  // error naming the file when absent
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  const GgufTensorInfo& tensor(const std::string& name) const;
  const unsigned char* data(const GgufTensorInfo& info) const {
    return map_->data() + header_.data_offset + info.offset;
  }
  // The tensor as float32 (F32, F16, BF16 and Q8_0), e.g. to compare an export with its source.
  std::vector<float> to_float(const GgufTensorInfo& info) const;

 private:
  std::unique_ptr<MappedFile> map_;
  GgufHeader header_;
};

// One tensor to write: `data` holds nbytes of `type` laid out for `dims` (ggml order).
struct GgufTensorData {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<uint64_t> dims;
  const void* data = nullptr;
  size_t nbytes = 0;
};

// Writes atomically (temp file, fsync, rename). The alignment is `general.alignment` when the metadata holds it (a u32
// power of two), else 32. Checks names unique, keys unique, nbytes = the size dims and type imply.
void write_gguf(const std::string& path, const GgufMetadata& metadata, const std::vector<GgufTensorData>& tensors);

// Q8_0, from the format's definition: blocks of 32 values, each an fp16 scale d = max|x| / 127 followed by 32 int8
// q = round(x / d) (half away from zero), so x ≈ d·q. n must be a multiple of 32.
std::vector<uint8_t> quantize_q8_0(const float* values, size_t n);
std::vector<float> dequantize_q8_0(const uint8_t* blocks, size_t n);

}  // namespace rlhf
