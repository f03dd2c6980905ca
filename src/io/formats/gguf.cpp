#include "io/formats/gguf.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "common/error.h"
#include "io/formats/safetensors.h"  // half_to_float / float_to_half / bf16_to_float

namespace rlhf {

namespace {

constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS

struct TypeRow { GgmlType type; const char* name; int64_t block; int64_t size; };
// Block sizes and bytes per block: facts of the ggml formats (the same table the `gguf` package carries).
constexpr TypeRow kTypes[] = {
    {GgmlType::F32, "F32", 1, 4},        {GgmlType::F16, "F16", 1, 2},         {GgmlType::Q4_0, "Q4_0", 32, 18},
    {GgmlType::Q4_1, "Q4_1", 32, 20},    {GgmlType::Q5_0, "Q5_0", 32, 22},     {GgmlType::Q5_1, "Q5_1", 32, 24},
    {GgmlType::Q8_0, "Q8_0", 32, 34},    {GgmlType::Q8_1, "Q8_1", 32, 40},     {GgmlType::Q2_K, "Q2_K", 256, 84},
    {GgmlType::Q3_K, "Q3_K", 256, 110},  {GgmlType::Q4_K, "Q4_K", 256, 144},   {GgmlType::Q5_K, "Q5_K", 256, 176},
    {GgmlType::Q6_K, "Q6_K", 256, 210},  {GgmlType::Q8_K, "Q8_K", 256, 292},   {GgmlType::I8, "I8", 1, 1},
    {GgmlType::I16, "I16", 1, 2},        {GgmlType::I32, "I32", 1, 4},         {GgmlType::I64, "I64", 1, 8},
    {GgmlType::F64, "F64", 1, 8},        {GgmlType::BF16, "BF16", 1, 2},
};

const TypeRow* type_row(uint32_t type) {
  for (const auto& row : kTypes)
    if (static_cast<uint32_t>(row.type) == type) return &row;
  return nullptr;
}

const TypeRow& known_row(GgmlType type) {
  const TypeRow* row = type_row(static_cast<uint32_t>(type));
  if (!row) fail("ggml type", "a known type", std::to_string(static_cast<uint32_t>(type)));
  return *row;
}

// Bytes one array element needs at least (a string needs its 8-byte length): bounds a count before anything is reserved.
uint64_t min_value_size(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 12;
    case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64: return 8;
  }
  return 1;
}

bool is_integer_type(GgufValueType t) {
  return t == GgufValueType::UINT8 || t == GgufValueType::INT8 || t == GgufValueType::UINT16 ||
         t == GgufValueType::INT16 || t == GgufValueType::UINT32 || t == GgufValueType::INT32 ||
         t == GgufValueType::UINT64 || t == GgufValueType::INT64 || t == GgufValueType::BOOL;
}


// Reads little-endian fields from a byte span; every read is checked against what is left.
class Cursor {
 public:
  Cursor(const unsigned char* data, size_t size, const std::string& where) : data_(data), size_(size), where_(where) {}
  size_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  void need(uint64_t n, const std::string& what) const {
    if (n > left())
      fail(where_, what + " (" + std::to_string(n) + " bytes at offset " + std::to_string(pos_) + ")",
           "the file ends after " + std::to_string(size_) + " bytes (truncated or corrupt)");
  }
  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const std::string& what) {
    uint64_t length = read<uint64_t>("the length of " + what);
    need(length, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length;
    return s;
  }
  [[noreturn]] void error(const std::string& expected, const std::string& found) const {
    fail(where_ + " at offset " + std::to_string(pos_), expected, found);
  }

 private:
  const unsigned char* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& where_;
};

GgufValueType read_type(Cursor& in, const std::string& what) {
  uint32_t t = in.read<uint32_t>("the value type of " + what);
  if (t > static_cast<uint32_t>(GgufValueType::FLOAT64))
    in.error("a value type 0..12 for " + what, std::to_string(t));
  return static_cast<GgufValueType>(t);
}

// A scalar of `type` as int64 / double / string.
GgufValue read_scalar(Cursor& in, GgufValueType type, const std::string& what) {
  switch (type) {
    case GgufValueType::UINT8: return GgufValue::u8(in.read<uint8_t>(what));
    case GgufValueType::INT8: return GgufValue::i8(in.read<int8_t>(what));
    case GgufValueType::UINT16: return GgufValue::u16(in.read<uint16_t>(what));
    case GgufValueType::INT16: return GgufValue::i16(in.read<int16_t>(what));
    case GgufValueType::UINT32: return GgufValue::u32(in.read<uint32_t>(what));
    case GgufValueType::INT32: return GgufValue::i32(in.read<int32_t>(what));
    case GgufValueType::UINT64: return GgufValue::u64(in.read<uint64_t>(what));
    case GgufValueType::INT64: return GgufValue::i64(in.read<int64_t>(what));
    case GgufValueType::FLOAT32: return GgufValue::f32(in.read<float>(what));
    case GgufValueType::FLOAT64: return GgufValue::f64(in.read<double>(what));
    case GgufValueType::BOOL: {
      uint8_t b = in.read<uint8_t>(what);
      if (b > 1) in.error("a bool 0 or 1 for " + what, std::to_string(b));
      return GgufValue::boolean(b != 0);
    }
    case GgufValueType::STRING: return GgufValue::string(in.string(what));
    case GgufValueType::ARRAY: break;
  }
  in.error("a scalar for " + what, "an array");
}

GgufValue read_value(Cursor& in, GgufValueType type, const std::string& what) {
  if (type != GgufValueType::ARRAY) return read_scalar(in, type, what);
  GgufValueType element = read_type(in, "the elements of " + what);
  if (element == GgufValueType::ARRAY) in.error("an array of scalars for " + what, "an array of arrays (not supported)");
  uint64_t count = in.read<uint64_t>("the element count of " + what);
  if (count > in.left() / min_value_size(element))
    in.error("an element count for " + what + " that fits in the " + std::to_string(in.left()) + " bytes left",
             std::to_string(count) + " elements of " + gguf_value_type_name(element));
  if (element == GgufValueType::STRING) {
    std::vector<std::string> items;
    items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) items.push_back(in.string(what + "[" + std::to_string(i) + "]"));
    return GgufValue::strings(std::move(items));
  }
  if (gguf_is_real(element)) {
    std::vector<double> items;
    items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) items.push_back(read_scalar(in, element, what).as_double());
    return GgufValue::reals(element, std::move(items));
  }
  std::vector<int64_t> items;
  items.reserve(count);
  for (uint64_t i = 0; i < count; ++i) items.push_back(read_scalar(in, element, what).as_int());
  return GgufValue::integers(element, std::move(items));
}

}  // namespace

uint64_t gguf_alignment(const GgufMetadata& metadata, const std::string& where) {
  const GgufValue* value = gguf_find(metadata, "general.alignment");
  if (!value) return kDefaultAlignment;
  if (value->type() != GgufValueType::UINT32) fail(where, "general.alignment of type u32", value->describe());
  uint64_t a = value->as_uint();
  // Capped so that padding stays small: real files use 32 (ggml's default) or another small power of two.
  if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20))
    fail(where, "general.alignment a power of two up to 2^20", std::to_string(a));
  return a;
}

// ---- names and sizes ----

std::string gguf_value_type_name(GgufValueType type) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64",
                                "f64"};
  auto i = static_cast<uint32_t>(type);
  return i < 13 ? names[i] : "type " + std::to_string(i);
}

bool ggml_type_known(uint32_t type) { return type_row(type) != nullptr; }
std::string ggml_type_name(GgmlType type) {
  const TypeRow* row = type_row(static_cast<uint32_t>(type));
  return row ? row->name : "type " + std::to_string(static_cast<uint32_t>(type));
}
bool parse_ggml_type(const std::string& name, GgmlType* out) {
  std::string upper = name;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  for (const auto& row : kTypes)
    if (upper == row.name) return *out = row.type, true;
  return false;
}

uint64_t ggml_nbytes(GgmlType type, const std::vector<uint64_t>& dims) {
  const TypeRow& row = known_row(type);
  if (dims.empty() || dims.size() > kMaxDims)
    fail("tensor dims", "1 to 4 dimensions", std::to_string(dims.size()));
  if (dims[0] % row.block != 0)
    fail("tensor dims", "a row length (dims[0]) that is a multiple of " + std::to_string(row.block) + " for " + row.name,
         std::to_string(dims[0]));
  // The element count must fit in int64 (ggml's ne), and so must the bytes.
  uint64_t numel = 1;
  for (uint64_t d : dims) {
    if (d != 0 && numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / d)
      fail("tensor dims", "an element count that fits in int64", "an overflowing shape");
    numel *= d;
  }
  uint64_t blocks = numel / row.block;
  if (blocks > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / row.size)
    fail("tensor dims", "a byte size that fits in int64", "an overflowing shape");
  return blocks * row.size;
}

uint64_t GgufTensorInfo::numel() const {
  uint64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

// ---- values ----

GgufValue GgufValue::integer(GgufValueType type, int64_t v) {
  GgufValue value;
  value.type_ = type;
  value.int_ = v;
  return value;
}
GgufValue GgufValue::real(GgufValueType type, double v) {
  GgufValue value;
  value.type_ = type;
  value.real_ = v;
  return value;
}
GgufValue GgufValue::string(std::string v) {
  GgufValue value;
  value.type_ = GgufValueType::STRING;
  value.string_ = std::move(v);
  return value;
}
GgufValue GgufValue::strings(std::vector<std::string> v) {
  GgufValue value;
  value.type_ = GgufValueType::ARRAY;
  value.element_ = GgufValueType::STRING;
  value.strings_ = std::move(v);
  return value;
}
GgufValue GgufValue::integers(GgufValueType element, std::vector<int64_t> v) {
  if (!is_integer_type(element)) fail("GGUF array", "an integer element type", gguf_value_type_name(element));
  GgufValue value;
  value.type_ = GgufValueType::ARRAY;
  value.element_ = element;
  value.ints_ = std::move(v);
  return value;
}
GgufValue GgufValue::reals(GgufValueType element, std::vector<double> v) {
  if (!gguf_is_real(element)) fail("GGUF array", "a float element type", gguf_value_type_name(element));
  GgufValue value;
  value.type_ = GgufValueType::ARRAY;
  value.element_ = element;
  value.reals_ = std::move(v);
  return value;
}

uint64_t GgufValue::array_size() const {
  if (!is_array()) return 0;
  if (element_ == GgufValueType::STRING) return strings_.size();
  return gguf_is_real(element_) ? reals_.size() : ints_.size();
}

int64_t GgufValue::as_int() const {
  if (!is_integer_type(type_)) fail("GGUF value", "an integer", describe());
  if (type_ == GgufValueType::UINT64 && int_ < 0) fail("GGUF value", "an integer that fits in int64", describe());
  return int_;
}
uint64_t GgufValue::as_uint() const {
  if (!is_integer_type(type_)) fail("GGUF value", "an unsigned integer", describe());
  if (type_ != GgufValueType::UINT64 && int_ < 0) fail("GGUF value", "a non-negative integer", describe());
  return static_cast<uint64_t>(int_);
}
double GgufValue::as_double() const {
  if (!gguf_is_real(type_)) fail("GGUF value", "a float", describe());
  return real_;
}
bool GgufValue::as_bool() const {
  if (type_ != GgufValueType::BOOL) fail("GGUF value", "a bool", describe());
  return int_ != 0;
}
const std::string& GgufValue::as_string() const {
  if (type_ != GgufValueType::STRING) fail("GGUF value", "a string", describe());
  return string_;
}
const std::vector<std::string>& GgufValue::as_strings() const {
  if (!is_array() || element_ != GgufValueType::STRING) fail("GGUF value", "an array of strings", describe());
  return strings_;
}
const std::vector<int64_t>& GgufValue::as_ints() const {
  if (!is_array() || !is_integer_type(element_)) fail("GGUF value", "an array of integers", describe());
  return ints_;
}
const std::vector<double>& GgufValue::as_reals() const {
  if (!is_array() || !gguf_is_real(element_)) fail("GGUF value", "an array of floats", describe());
  return reals_;
}

std::string GgufValue::describe() const {
  if (is_array()) return "[" + gguf_value_type_name(element_) + " × " + std::to_string(array_size()) + "]";
  std::string t = gguf_value_type_name(type_) + " ";
  if (type_ == GgufValueType::STRING) return t + "'" + (string_.size() > 40 ? string_.substr(0, 40) + "…" : string_) + "'";
  if (gguf_is_real(type_)) return t + std::to_string(real_);
  if (type_ == GgufValueType::UINT64) return t + std::to_string(static_cast<uint64_t>(int_));
  return t + std::to_string(int_);
}

const GgufValue* gguf_find(const GgufMetadata& metadata, const std::string& key) {
  for (const auto& kv : metadata)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

// ---- reading ----

GgufHeader parse_gguf(const unsigned char* data, size_t size, const std::string& where) {
  Cursor in(data, size, where);
  GgufHeader header;
  uint32_t magic = in.read<uint32_t>("the magic \"GGUF\"");
  if (magic != kGgufMagic) {
    std::string found;
    for (int i = 0; i < 4; ++i) {
      unsigned char ch = data[i];
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", ch);
      found += std::isprint(ch) ? std::string(1, static_cast<char>(ch)) : std::string(hex);
    }
    fail(where, "the magic \"GGUF\" (not a GGUF file?)", "\"" + found + "\"");
  }
  header.version = in.read<uint32_t>("the version");
  if (header.version != 2 && header.version != 3) fail(where, "GGUF version 3 (or 2)", std::to_string(header.version));
  uint64_t tensor_count = in.read<uint64_t>("the tensor count");
  uint64_t kv_count = in.read<uint64_t>("the metadata count");
  // A key/value takes at least 13 bytes (length, type, one byte), a tensor info 24: absurd counts stop here.
  if (kv_count > in.left() / 13)
    fail(where, "a metadata count that fits in the file", std::to_string(kv_count) + " key/values");
  if (tensor_count > in.left() / 24)
    fail(where, "a tensor count that fits in the file", std::to_string(tensor_count) + " tensors");

  std::set<std::string> keys;
  header.metadata.reserve(kv_count);
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = in.string("metadata key #" + std::to_string(i));
    if (key.empty()) in.error("a non-empty metadata key", "an empty one (key #" + std::to_string(i) + ")");
    if (!keys.insert(key).second) in.error("unique metadata keys", "'" + key + "' twice");
    GgufValueType type = read_type(in, "'" + key + "'");
    GgufValue value = read_value(in, type, "'" + key + "'");
    header.metadata.emplace_back(std::move(key), std::move(value));
  }
  header.alignment = gguf_alignment(header.metadata, where);

  std::set<std::string> names;
  header.tensors.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo info;
    info.name = in.string("the name of tensor #" + std::to_string(i));
    const std::string what = "tensor '" + info.name + "'";
    if (info.name.size() > kGgufMaxTensorName)
      in.error("a tensor name of at most 63 bytes (ggml's limit)", std::to_string(info.name.size()) + " bytes");
    if (!names.insert(info.name).second) in.error("unique tensor names", "'" + info.name + "' twice");
    uint32_t n_dims = in.read<uint32_t>("the dimension count of " + what);
    if (n_dims == 0 || n_dims > kMaxDims) in.error("1 to 4 dimensions for " + what, std::to_string(n_dims));
    for (uint32_t d = 0; d < n_dims; ++d) info.dims.push_back(in.read<uint64_t>("the dims of " + what));
    uint32_t type = in.read<uint32_t>("the type of " + what);
    if (!ggml_type_known(type)) in.error("a known ggml type for " + what, "type " + std::to_string(type));
    info.type = static_cast<GgmlType>(type);
    info.offset = in.read<uint64_t>("the data offset of " + what);
    try {
      info.nbytes = ggml_nbytes(info.type, info.dims);
    } catch (const Error& e) {
      fail(where + " " + what, "a valid shape", e.what());
    }
    if (info.offset % header.alignment != 0)
      fail(where + " " + what, "a data offset aligned to " + std::to_string(header.alignment),
           std::to_string(info.offset));
    header.tensors.push_back(std::move(info));
  }

  header.data_offset = gguf_align_up(in.pos(), header.alignment);
  const uint64_t data_size = header.data_offset <= size ? size - header.data_offset : 0;
  if (!header.tensors.empty() && header.data_offset > size)
    fail(where, "a data section after the tensor infos (at offset " + std::to_string(header.data_offset) + ")",
         "the file ends at " + std::to_string(size) + " (truncated)");
  for (const auto& t : header.tensors)
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      fail(where + " tensor '" + t.name + "'",
           "its " + std::to_string(t.nbytes) + " bytes at data offset " + std::to_string(t.offset) +
               " inside the data section of " + std::to_string(data_size) + " bytes",
           "they run past the end of the file (truncated or corrupt)");
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& t : header.tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->offset < by_offset[i - 1]->offset + by_offset[i - 1]->nbytes)
      fail(where, "non-overlapping tensor data",
           "'" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
  return header;
}

GgufFile::GgufFile(const std::string& path) : map_(std::make_unique<MappedFile>(path)) {
  header_ = parse_gguf(map_->data(), map_->size(), path);
}

const GgufValue& GgufFile::at(const std::string& key) const {
  const GgufValue* value = find(key);
  if (!value) fail(path(), "a metadata key '" + key + "'", "none");
  return *value;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  for (const auto& t : header_.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo* info = find_tensor(name);
  if (!info) fail(path(), "a tensor named '" + name + "'", "none");
  return *info;
}

std::vector<float> GgufFile::to_float(const GgufTensorInfo& info) const {
  const unsigned char* bytes = data(info);
  const size_t n = info.numel();
  std::vector<float> out(n);
  switch (info.type) {
    case GgmlType::F32:
      if (n > 0) std::memcpy(out.data(), bytes, n * 4);  // an empty vector's data() may be null: UB even for 0 bytes
      break;
    case GgmlType::F16:
    case GgmlType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        out[i] = info.type == GgmlType::F16 ? half_to_float(h) : bf16_to_float(h);
      }
      break;
    case GgmlType::Q8_0: out = dequantize_q8_0(bytes, n); break;
    default: fail(path() + " tensor '" + info.name + "'", "F32, F16, BF16 or Q8_0 to convert", ggml_type_name(info.type));
  }
  return out;
}

// ---- Q8_0 ----

std::vector<float> dequantize_q8_0(const uint8_t* blocks, size_t n) {
  if (n % 32 != 0) fail("Q8_0 dequantization", "a multiple of 32 values", std::to_string(n));
  std::vector<float> out(n);
  for (size_t b = 0; b < n / 32; ++b) {
    uint16_t scale;
    std::memcpy(&scale, blocks + 34 * b, 2);
    const float d = half_to_float(scale);
    for (int j = 0; j < 32; ++j) out[32 * b + j] = d * static_cast<int8_t>(blocks[34 * b + 2 + j]);
  }
  return out;
}

}  // namespace rlhf
