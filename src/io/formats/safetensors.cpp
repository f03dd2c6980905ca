#include "io/formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"

namespace rlhf {

using json = nlohmann::json;

namespace {
struct DTypeRow { DType dtype; const char* name; size_t size; };
constexpr DTypeRow kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4}, {DType::I16, "I16", 2}, {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::BOOL, "BOOL", 1},
};
constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit
}  // namespace

size_t dtype_size(DType dtype) {
  for (const auto& row : kDTypes)
    if (row.dtype == dtype) return row.size;
  return 0;
}

std::string dtype_name(DType dtype) {
  for (const auto& row : kDTypes)
    if (row.dtype == dtype) return row.name;
  return "?";
}

bool parse_dtype(const std::string& name, DType* out) {
  for (const auto& row : kDTypes)
    if (name == row.name) return *out = row.dtype, true;
  return false;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : map_(std::make_unique<MappedFile>(path)) {
  const size_t file_size = map_->size();
  if (file_size < 8) fail(path, "at least 8 bytes (the header length)", std::to_string(file_size) + " bytes");
  uint64_t header_len = 0;
  std::memcpy(&header_len, map_->data(), 8);  // little-endian on every machine we build for
  if (header_len > file_size - 8)
    fail(path, "a header length within the file (" + std::to_string(file_size - 8) + " bytes)",
         std::to_string(header_len));
  if (header_len > kMaxHeader) fail(path, "a header under 100 MB", std::to_string(header_len) + " bytes");
  data_start_ = 8 + header_len;
  const uint64_t buffer_size = file_size - data_start_;

  const std::string_view header_text(reinterpret_cast<const char*>(map_->data()) + 8, header_len);
  check_json_nesting(header_text, path);
  json header;
  try {
    header = json::parse(header_text.begin(), header_text.end());
  } catch (const json::exception& e) {
    fail(path, "a JSON header", std::string("invalid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) fail(path, "a JSON object as header", header.type_name());

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(path, "__metadata__ to be an object of strings", entry.type_name());
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) fail(path, "__metadata__['" + m.key() + "'] to be a string", json_excerpt(m.value()));
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = path + " tensor '" + name + "'";
    if (!entry.is_object()) fail(where, "an object {dtype, shape, data_offsets}", json_excerpt(entry));
    TensorInfo info;
    info.name = name;
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) fail(where, "a string dtype", "none");
    std::string dtype = entry["dtype"].get<std::string>();
    if (!parse_dtype(dtype, &info.dtype)) fail(where, "a known dtype (F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)", dtype);
    if (!entry.contains("shape") || !entry["shape"].is_array()) fail(where, "a shape array", "none");
    uint64_t numel = 1;
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned()) fail(where, "non-negative integer dimensions", json_excerpt(entry["shape"]));
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (1ull << 62) / dim) fail(where, "a shape of sane size", json_excerpt(entry["shape"]));
      numel *= dim;
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    const json& offsets = entry.contains("data_offsets") ? entry["data_offsets"] : json();
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      fail(where, "data_offsets [begin, end]", json_excerpt(offsets));
    info.begin = offsets[0].get<uint64_t>();
    info.end = offsets[1].get<uint64_t>();
    if (info.begin > info.end || info.end > buffer_size)
      fail(where, "data_offsets within the data buffer of " + std::to_string(buffer_size) + " bytes",
           json_excerpt(offsets));
    // numel can reach 2^62, and × 8 bytes would wrap around: compare in elements when the bytes would not fit.
    const uint64_t size = dtype_size(info.dtype), bytes = info.end - info.begin;
    if (numel > buffer_size / size || bytes != numel * size)
      fail(where, "shape × dtype size = the " + std::to_string(bytes) + " bytes in data_offsets",
           json_excerpt(entry["shape"]) + " × " + std::to_string(size) + " bytes");
    index_[name] = tensors_.size();
    tensors_.push_back(std::move(info));
  }
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      fail(path, "non-overlapping tensors", "'" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafetensorsFile::at(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (!info) fail(path(), "a tensor named '" + name + "'", "none");
  return *info;
}

void write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  uint64_t header_len = text.size();
  AtomicWriter writer(path);
  writer.write(&header_len, 8);
  writer.write(text);
  for (const auto& t : tensors) writer.write(t.data, t.nbytes);
  writer.commit();
}

float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff, bits;
  if (exponent == 0) {
    if (mantissa == 0) bits = sign;
    else {  // subnormal: normalise
      exponent = 127 - 15 + 1;
      while (!(mantissa & 0x400)) mantissa <<= 1, --exponent;
      bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
    }
  } else if (exponent == 31) bits = sign | 0x7f800000u | (mantissa << 13);
  else bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exponent = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mantissa = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mantissa ? 0x200u : 0));
  if (exponent >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exponent <= 0) {
    if (exponent < -10) return static_cast<uint16_t>(sign);
    mantissa |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - exponent);
    uint32_t half = mantissa >> shift, rest = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(exponent) << 10) | (mantissa >> 13);
  uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1))) ++half;  // may carry into the exponent: still correct
  return static_cast<uint16_t>(half);
}

float bf16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // NaN stays NaN
  x += 0x7fffu + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

std::vector<std::string> model_weight_files(const std::string& dir) {
  const std::string single = dir + "/model.safetensors", index = dir + "/model.safetensors.index.json";
  if (file_exists(single)) return {single};
  if (!file_exists(index)) {
    if (file_exists(dir + "/pytorch_model.bin") || file_exists(dir + "/model.pt"))
      fail(dir, "model.safetensors (pickled .bin/.pt checkpoints are never loaded: convert them to safetensors)",
           "only a pickle checkpoint");
    fail(dir, "model.safetensors or model.safetensors.index.json", "neither");
  }
  nlohmann::json j = read_json(index);
  if (!j.contains("weight_map") || !j["weight_map"].is_object()) fail(index, "a weight_map object", "none");
  std::set<std::string> shards;
  for (const auto& shard : j["weight_map"]) {
    if (!shard.is_string()) fail(index, "shard file names in weight_map", json_excerpt(shard));
    const std::string name = shard.get<std::string>();
    if (name.find('/') != std::string::npos || name.find("..") != std::string::npos)
      fail(index, "a plain shard file name", "'" + name + "'");
    shards.insert(name);
  }
  std::vector<std::string> files;
  for (const auto& name : shards) files.push_back(dir + "/" + name);
  return files;
}

}  // namespace rlhf
