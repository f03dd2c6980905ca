// GGUF writing (the format is in gguf.h): header, metadata, tensor infos, then the aligned data, in one atomic file.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "common/error.h"
#include "io/formats/gguf.h"
#include "io/formats/safetensors.h"  // float_to_half

namespace rlhf {

namespace {

void put_bytes(std::string& out, const void* data, size_t n) { out.append(static_cast<const char*>(data), n); }
template <typename T>
void put(std::string& out, T v) { put_bytes(out, &v, sizeof(T)); }
void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

void put_scalar(std::string& out, GgufValueType type, int64_t i, double r) {
  switch (type) {
    case GgufValueType::UINT8: case GgufValueType::BOOL: put<uint8_t>(out, static_cast<uint8_t>(i)); break;
    case GgufValueType::INT8: put<int8_t>(out, static_cast<int8_t>(i)); break;
    case GgufValueType::UINT16: put<uint16_t>(out, static_cast<uint16_t>(i)); break;
    case GgufValueType::INT16: put<int16_t>(out, static_cast<int16_t>(i)); break;
    case GgufValueType::UINT32: put<uint32_t>(out, static_cast<uint32_t>(i)); break;
    case GgufValueType::INT32: put<int32_t>(out, static_cast<int32_t>(i)); break;
    case GgufValueType::UINT64: put<uint64_t>(out, static_cast<uint64_t>(i)); break;
    case GgufValueType::INT64: put<int64_t>(out, i); break;
    case GgufValueType::FLOAT32: put<float>(out, static_cast<float>(r)); break;
    case GgufValueType::FLOAT64: put<double>(out, r); break;
    default: fail("GGUF writer", "a scalar type", gguf_value_type_name(type));
  }
}

void put_value(std::string& out, const GgufValue& v) {
  put<uint32_t>(out, static_cast<uint32_t>(v.type()));
  if (v.type() == GgufValueType::STRING) return put_string(out, v.as_string());
  if (!v.is_array()) {
    bool real = gguf_is_real(v.type());
    return put_scalar(out, v.type(), real ? 0 : (v.type() == GgufValueType::UINT64 ? static_cast<int64_t>(v.as_uint())
                                                                                     : v.as_int()),
                      real ? v.as_double() : 0);
  }
  put<uint32_t>(out, static_cast<uint32_t>(v.element_type()));
  put<uint64_t>(out, v.array_size());
  if (v.element_type() == GgufValueType::STRING)
    for (const auto& s : v.as_strings()) put_string(out, s);
  else if (gguf_is_real(v.element_type()))
    for (double r : v.as_reals()) put_scalar(out, v.element_type(), 0, r);
  else
    for (int64_t i : v.as_ints()) put_scalar(out, v.element_type(), i, 0);
}

}  // namespace

void write_gguf(const std::string& path, const GgufMetadata& metadata, const std::vector<GgufTensorData>& tensors) {
  const uint64_t alignment = gguf_alignment(metadata, path);
  std::string head;
  put<uint32_t>(head, kGgufMagic);
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors.size());
  put<uint64_t>(head, metadata.size());
  std::set<std::string> keys;
  for (const auto& [key, value] : metadata) {
    if (key.empty()) fail(path, "non-empty metadata keys", "an empty key");
    if (!keys.insert(key).second) fail(path, "unique metadata keys", "'" + key + "' twice");
    put_string(head, key);
    put_value(head, value);
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    const std::string where = path + " tensor '" + t.name + "'";
    if (t.name.empty() || t.name.size() > kGgufMaxTensorName) fail(where, "a name of 1 to 63 bytes", std::to_string(t.name.size()));
    if (!names.insert(t.name).second) fail(path, "unique tensor names", "'" + t.name + "' twice");
    uint64_t nbytes = ggml_nbytes(t.type, t.dims);
    if (nbytes != t.nbytes || (nbytes > 0 && !t.data))
      fail(where, std::to_string(nbytes) + " bytes of " + ggml_type_name(t.type) + " data", std::to_string(t.nbytes));
    put_string(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) put<uint64_t>(head, d);
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, offset);
    offset = gguf_align_up(offset + nbytes, alignment);
  }
  head.append(gguf_align_up(head.size(), alignment) - head.size(), '\0');

  AtomicWriter writer(path);
  writer.write(head);
  const std::string zeros(alignment, '\0');
  for (const auto& t : tensors) {
    writer.write(t.data, t.nbytes);
    writer.write(zeros.data(), gguf_align_up(t.nbytes, alignment) - t.nbytes);
  }
  writer.commit();
}

std::vector<uint8_t> quantize_q8_0(const float* values, size_t n) {
  if (n % 32 != 0) fail("Q8_0 quantization", "a multiple of 32 values", std::to_string(n));
  std::vector<uint8_t> out(n / 32 * 34);
  for (size_t b = 0; b < n / 32; ++b) {
    const float* x = values + 32 * b;
    float amax = 0;
    for (int j = 0; j < 32; ++j) {
      if (!std::isfinite(x[j])) fail("Q8_0 quantization", "finite values", std::to_string(x[j]));
      amax = std::max(amax, std::fabs(x[j]));
    }
    // In float32, as the format's reference does: the scale is rounded to fp16 only when stored.
    const float d = amax / 127.0f;
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* block = out.data() + 34 * b;
    uint16_t scale = float_to_half(d);
    std::memcpy(block, &scale, 2);
    for (int j = 0; j < 32; ++j) block[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * inverse)));
  }
  return out;
}

}  // namespace rlhf
