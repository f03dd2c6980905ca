// Flatbuffers read by hand, every read bounds-checked: the metadata of an Arrow IPC message (arrow_stream.cpp) is one,
// and the file holding it may be truncated or hostile. A read outside the buffer is an rlhf::Error naming `where`
// ("PATH: the metadata of message 3 (at byte 1234)"), never an over-read. The layout (flatbuffers' "internals" doc):
//   - the buffer starts with a uint32: the offset of the root table;
//   - a table starts with an int32 soffset: its vtable is at (table position - soffset);
//   - a vtable is uint16s: [its own size in bytes, the table's inline size, field 0's offset in the table, field 1's, ...];
//     a field whose slot is past the vtable's end or holds 0 is absent (it has its default value);
//   - a field holding a table, vector or string holds a uint32 that is added to the field's own position;
//   - a vector is a uint32 count then its elements: structs inline, tables as uint32 offsets from each element's position;
//   - a string is a vector of bytes (a 0 byte follows, not counted).
// A union field takes two slots: its type (a ubyte) and then its value (a table).
// Little-endian, as the format is; like safetensors.cpp, this assumes a little-endian machine.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "common/error.h"

namespace rlhf::flatbuffer {

class Buffer {
 public:
  Buffer(const unsigned char* data, size_t size, std::string where) : data_(data), size_(size), where_(std::move(where)) {}
  size_t size() const { return size_; }
  const std::string& where() const { return where_; }
  // The `bytes` bytes at `at`, checked to lie inside the buffer.
  const unsigned char* bytes(uint64_t at, uint64_t bytes, const char* what) const {
    if (at > size_ || bytes > size_ - at)
      fail(where_, std::string(what) + " inside the " + std::to_string(size_) + "-byte flatbuffer",
           std::to_string(bytes) + " bytes at byte " + std::to_string(at));
    return data_ + at;
  }
  template <typename T>
  T read(uint64_t at, const char* what) const {
    T value;
    std::memcpy(&value, bytes(at, sizeof(T), what), sizeof(T));
    return value;
  }
  // The position an offset field at `at` points to: its uint32 added to `at`.
  uint64_t follow(uint64_t at, const char* what) const { return at + read<uint32_t>(at, what); }

 private:
  const unsigned char* data_;
  size_t size_;
  std::string where_;
};

class Vector;

class Table {
 public:
  // The table at `position`, its vtable checked to lie inside the buffer.
  Table(const Buffer& buffer, uint64_t position) : buffer_(&buffer), position_(position) {
    const int64_t vtable = static_cast<int64_t>(position) - buffer.read<int32_t>(position, "a table");
    if (vtable < 0) fail(buffer.where(), "a vtable inside the flatbuffer", "one at byte " + std::to_string(vtable));
    vtable_ = static_cast<uint64_t>(vtable);
    vtable_size_ = buffer.read<uint16_t>(vtable_, "a vtable");
    inline_size_ = buffer.read<uint16_t>(vtable_ + 2, "a vtable");
    if (vtable_size_ < 4 || vtable_size_ % 2 != 0)
      fail(buffer.where(), "a vtable of 4 or more bytes, an even count", std::to_string(vtable_size_) + " bytes");
    buffer.bytes(vtable_, vtable_size_, "a vtable");
    buffer.bytes(position_, inline_size_, "a table's fields");
  }
  static Table root(const Buffer& buffer) { return Table(buffer, buffer.follow(0, "the root table's offset")); }

  bool has(int slot) const { return field_offset(slot) != 0; }
  template <typename T>
  T scalar(int slot, T absent) const {
    const uint16_t offset = field_offset(slot);
    if (offset == 0) return absent;
    check_inline(offset, sizeof(T));
    return buffer_->read<T>(position_ + offset, "a table field");
  }
  // The table, vector or string a field points to; has(slot) must be true for table().
  Table table(int slot) const { return Table(*buffer_, target(slot)); }
  inline Vector vector(int slot, uint64_t element_size) const;  // empty when absent
  std::string string(int slot) const;                           // "" when absent

 private:
  uint16_t field_offset(int slot) const {
    const uint64_t at = 4 + 2 * static_cast<uint64_t>(slot);
    return at + 2 <= vtable_size_ ? buffer_->read<uint16_t>(vtable_ + at, "a vtable entry") : 0;
  }
  void check_inline(uint16_t offset, uint64_t size) const {
    if (offset + size > inline_size_)
      fail(buffer_->where(), "table fields inside the table's " + std::to_string(inline_size_) + " bytes",
           "a field at its byte " + std::to_string(offset));
  }
  uint64_t target(int slot) const {
    const uint16_t offset = field_offset(slot);
    if (offset == 0) fail(buffer_->where(), "a required table field", "none");
    check_inline(offset, 4);
    return buffer_->follow(position_ + offset, "an offset field");
  }
  friend class Vector;
  const Buffer* buffer_;
  uint64_t position_ = 0, vtable_ = 0;
  uint16_t vtable_size_ = 0, inline_size_ = 0;
};

class Vector {
 public:
  Vector() = default;
  Vector(const Buffer& buffer, uint64_t position, uint64_t element_size) : buffer_(&buffer), element_size_(element_size) {
    size_ = buffer.read<uint32_t>(position, "a vector's length");
    elements_ = position + 4;
    buffer.bytes(elements_, size_ * element_size, "a vector's elements");  // size_ < 2^32: no overflow
  }
  uint64_t size() const { return size_; }
  // Where element i starts (a struct's fields are read from there).
  uint64_t position(uint64_t i) const { return elements_ + i * element_size_; }
  template <typename T>
  T scalar(uint64_t i, uint64_t byte_in_element = 0) const {
    return buffer_->read<T>(position(i) + byte_in_element, "a vector element");
  }
  Table table(uint64_t i) const { return Table(*buffer_, buffer_->follow(position(i), "a table's offset")); }
  std::string chars() const {
    return size_ == 0 ? "" : std::string(reinterpret_cast<const char*>(buffer_->bytes(elements_, size_, "a string")), size_);
  }

 private:
  const Buffer* buffer_ = nullptr;
  uint64_t elements_ = 0, size_ = 0, element_size_ = 1;
};

inline Vector Table::vector(int slot, uint64_t element_size) const {
  return has(slot) ? Vector(*buffer_, target(slot), element_size) : Vector();
}

inline std::string Table::string(int slot) const { return has(slot) ? vector(slot, 1).chars() : ""; }

}  // namespace rlhf::flatbuffer
