#include "io/formats/arrow_stream.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "io/formats/flatbuffer.h"
#include "tokenizer/utf8.h"

namespace rlhf {

using json = nlohmann::json;

namespace {

// Message.fbs and Schema.fbs: the message kinds and the table fields read here. A field's slot is its number in the
// table's declaration order, a union taking two (its type tag, then its value).
enum MessageType : uint8_t { kSchema = 1, kDictionaryBatch = 2, kRecordBatch = 3 };
const char* const kMessageTypeNames[] = {"none", "a schema", "a dictionary batch", "a record batch", "a tensor",
                                         "a sparse tensor"};
constexpr int kMessageVersion = 0, kMessageHeaderType = 1, kMessageHeader = 2, kMessageBodyLength = 3;
constexpr int kSchemaEndianness = 0, kSchemaFields = 1;
constexpr int kFieldName = 0, kFieldTypeType = 2, kFieldType = 3, kFieldDictionary = 4, kFieldChildren = 5;
constexpr int kBatchLength = 0, kBatchNodes = 1, kBatchBuffers = 2, kBatchCompression = 3;
constexpr int kIntBitWidth = 0, kIntIsSigned = 1, kFloatPrecision = 0, kFixedSizeListSize = 0, kCompressionCodec = 0;
// The structs FieldNode {long length; long null_count} and Buffer {long offset; long length}.
constexpr uint64_t kFieldNodeBytes = 16, kBufferBytes = 16;
// MetadataVersion V4 (Arrow 0.8 on) and V5 (1.0 on, what pyarrow writes) lay out everything read here alike.
constexpr int16_t kMetadataV4 = 3, kMetadataV5 = 4;
constexpr uint32_t kContinuation = 0xFFFFFFFF;

// The Type union's tags (Schema.fbs), for messages about a type that is not read.
const char* const kTypeNames[] = {"none", "null", "int", "floating point", "binary", "utf8", "bool", "decimal", "date",
                                  "time", "timestamp", "interval", "list", "struct", "union", "fixed_size_binary",
                                  "fixed_size_list", "map", "duration", "large_binary", "large_utf8", "large_list",
                                  "run_end_encoded", "binary_view", "utf8_view", "list_view", "large_list_view"};
enum TypeTag : uint8_t { kNullType = 1, kIntType = 2, kFloatType = 3, kUtf8Type = 5, kBoolType = 6, kListType = 12,
                         kStructType = 13, kFixedSizeListType = 16, kLargeUtf8Type = 20, kLargeListType = 21 };

// Real datasets nest a few levels (list<struct<...>>); JSON values are bounded at 256 (common/json.h).
constexpr int kMaxNesting = 64;
// A row of null-typed or field-less struct items costs no bytes in the file: without a bound, a few bytes could ask for
// billions of JSON values. A JSONL line is bounded at 64 MiB (data/jsonl.cpp); this is about as many values.
constexpr int64_t kMaxRowValues = int64_t{1} << 24;

enum class Kind { kNull, kBool, kInt, kFloat, kUtf8, kList, kFixedSizeList, kStruct };

struct Column {
  std::string name;
  std::string path;  // "messages[].role": where it sits, for messages
  Kind kind = Kind::kNull;
  int byte_width = 0;  // int and float: the value's bytes; utf8 and list: the offsets' (8 for the large_ forms)
  bool is_signed = true;
  int64_t list_size = 0;  // fixed_size_list
  std::vector<Column> children;
};

std::string type_name(const Column& c) {
  switch (c.kind) {
    case Kind::kNull: return "null";
    case Kind::kBool: return "bool";
    case Kind::kInt: return (c.is_signed ? "int" : "uint") + std::to_string(8 * c.byte_width);
    case Kind::kFloat: return c.byte_width == 2 ? "halffloat" : c.byte_width == 4 ? "float" : "double";
    case Kind::kUtf8: return c.byte_width == 8 ? "large_string" : "string";
    case Kind::kList: return (c.byte_width == 8 ? "large_list<" : "list<") + type_name(c.children[0]) + ">";
    case Kind::kFixedSizeList:
      return "fixed_size_list<" + type_name(c.children[0]) + ">[" + std::to_string(c.list_size) + "]";
    case Kind::kStruct: {
      std::string out = "struct<";
      for (size_t i = 0; i < c.children.size(); ++i)
        out += (i ? ", " : "") + c.children[i].name + ": " + type_name(c.children[i]);
      return out + ">";
    }
  }
  return "?";
}

void require_distinct_names(const std::vector<Column>& columns, const std::string& where) {
  std::set<std::string> seen;
  for (const auto& c : columns)
    if (!seen.insert(c.name).second) fail(where, "distinct column names", "'" + c.name + "' twice");
}

// One field of the schema (and its children), `parent` the path of the field holding it ("" at the top).
Column parse_column(const flatbuffer::Table& field, const std::string& parent, bool list_item, int depth,
                    const std::string& path) {
  Column c;
  c.name = field.string(kFieldName);
  c.path = list_item ? parent + "[]" : parent.empty() ? c.name : parent + "." + c.name;
  const std::string where = path + ": column '" + c.path + "'";
  if (depth > kMaxNesting) fail(where, "types nested at most " + std::to_string(kMaxNesting) + " levels deep", "deeper");
  if (field.has(kFieldDictionary))
    fail(where, "plain values", "dictionary encoding, which rlhf does not read (cast the column to its value type)");
  const uint8_t tag = field.scalar<uint8_t>(kFieldTypeType, 0);
  auto parameters = [&] {
    if (!field.has(kFieldType)) fail(where, std::string("the parameters of its ") + kTypeNames[tag] + " type", "none");
    return field.table(kFieldType);
  };
  switch (tag) {
    case kNullType: c.kind = Kind::kNull; break;
    case kBoolType: c.kind = Kind::kBool; break;
    case kIntType: {
      const auto type = parameters();
      const int32_t bits = type.scalar<int32_t>(kIntBitWidth, 0);
      if (bits != 8 && bits != 16 && bits != 32 && bits != 64)
        fail(where, "an int of 8, 16, 32 or 64 bits", std::to_string(bits) + " bits");
      c.kind = Kind::kInt, c.byte_width = bits / 8, c.is_signed = type.scalar<uint8_t>(kIntIsSigned, 0) != 0;
      break;
    }
    case kFloatType: {
      const int16_t precision = parameters().scalar<int16_t>(kFloatPrecision, 0);  // HALF, SINGLE, DOUBLE
      if (precision < 0 || precision > 2)
        fail(where, "a float of 16, 32 or 64 bits", "precision " + std::to_string(precision));
      c.kind = Kind::kFloat, c.byte_width = 2 << precision;
      break;
    }
    case kUtf8Type: case kLargeUtf8Type: c.kind = Kind::kUtf8, c.byte_width = tag == kUtf8Type ? 4 : 8; break;
    case kListType: case kLargeListType: c.kind = Kind::kList, c.byte_width = tag == kListType ? 4 : 8; break;
    case kFixedSizeListType:
      c.kind = Kind::kFixedSizeList, c.list_size = parameters().scalar<int32_t>(kFixedSizeListSize, 0);
      if (c.list_size < 0) fail(where, "a list size of 0 or more", std::to_string(c.list_size));
      break;
    case kStructType: c.kind = Kind::kStruct; break;
    default:
      fail(where, "a type rlhf reads (null, bool, int, float, string, large_string, list, large_list, fixed_size_list, "
                  "struct)",
           std::string("type ") + (tag < std::size(kTypeNames) ? kTypeNames[tag] : "#" + std::to_string(tag)));
  }
  const flatbuffer::Vector children = field.vector(kFieldChildren, 4);
  const bool is_list = c.kind == Kind::kList || c.kind == Kind::kFixedSizeList;
  if (is_list ? children.size() != 1 : c.kind != Kind::kStruct && children.size() != 0)
    fail(where, std::string(is_list ? "one child (the item type)" : "no child fields") + " for its " + kTypeNames[tag] +
                    " type",
         std::to_string(children.size()));
  for (uint64_t i = 0; i < children.size(); ++i)
    c.children.push_back(parse_column(children.table(i), c.path, is_list, depth + 1, path));
  if (c.kind == Kind::kStruct) require_distinct_names(c.children, where);
  return c;
}

struct Span {
  const unsigned char* data = nullptr;
  uint64_t size = 0;
};

// A column's part of one record batch: its field node and buffers, checked against each other when loaded, so that
// reading a value is never out of bounds.
struct Array {
  const Column* column = nullptr;
  int64_t length = 0, null_count = 0;
  Span validity, offsets, values;
  std::vector<Array> children;
};

uint64_t bitmap_bytes(int64_t bits) { return (static_cast<uint64_t>(bits) + 7) / 8; }
bool bit(const Span& bitmap, int64_t i) { return (bitmap.data[i >> 3] >> (i & 7)) & 1; }

int64_t offset_at(const Array& a, int64_t i) {
  if (a.column->byte_width == 4) {
    int32_t value;
    std::memcpy(&value, a.offsets.data + 4 * i, 4);
    return value;
  }
  int64_t value;
  std::memcpy(&value, a.offsets.data + 8 * i, 8);
  return value;
}

struct Message {
  Message(const std::string& at, const unsigned char* bytes, size_t size)
      : where(at), metadata(bytes, size, at + ": its metadata") {}
  std::string where;  // "PATH: message 3 (at byte 1234)"
  flatbuffer::Buffer metadata;
  uint8_t type = 0;
  Span body;
};

// Takes a record batch's field nodes and buffers in the schema's depth-first order, checking each against the body
// and the previous ones.
class BatchLoader {
 public:
  BatchLoader(const Message& message, const flatbuffer::Vector& nodes, const flatbuffer::Vector& buffers)
      : message_(message), nodes_(nodes), buffers_(buffers) {}

  Array load(const Column& c) {
    Array a;
    a.column = &c;
    take_node(a);
    if (c.kind == Kind::kNull) return a;  // the null type has no buffers
    a.validity = take_buffer(c, "validity bitmap");
    if (a.null_count > 0 && a.validity.size < bitmap_bytes(a.length))
      fail(at(c), "a validity bitmap of " + std::to_string(bitmap_bytes(a.length)) + " bytes (" +
                      std::to_string(a.length) + " values, " + std::to_string(a.null_count) + " null)",
           std::to_string(a.validity.size) + " bytes");
    switch (c.kind) {
      case Kind::kNull: break;
      case Kind::kBool:
        a.values = take_buffer(c, "values");
        if (a.values.size < bitmap_bytes(a.length))
          fail(at(c), std::to_string(bitmap_bytes(a.length)) + " bytes of values", std::to_string(a.values.size));
        break;
      case Kind::kInt: case Kind::kFloat:
        a.values = take_buffer(c, "values");
        if (a.values.size / static_cast<uint64_t>(c.byte_width) < static_cast<uint64_t>(a.length))
          fail(at(c), std::to_string(a.length) + " values of " + std::to_string(c.byte_width) + " bytes",
               std::to_string(a.values.size) + " bytes");
        break;
      case Kind::kUtf8:
        a.offsets = take_buffer(c, "offsets");
        a.values = take_buffer(c, "data");
        check_offsets(a, a.values.size, "bytes of data");
        break;
      case Kind::kList:
        a.offsets = take_buffer(c, "offsets");
        a.children.push_back(load(c.children[0]));
        check_offsets(a, static_cast<uint64_t>(a.children[0].length), "items");
        break;
      case Kind::kFixedSizeList: {
        a.children.push_back(load(c.children[0]));
        const int64_t items = a.children[0].length;
        if (c.list_size > 0 && a.length > items / c.list_size)
          fail(at(c), std::to_string(a.length) + " lists of " + std::to_string(c.list_size) + " items",
               std::to_string(items) + " items");
        break;
      }
      case Kind::kStruct:
        for (const auto& child : c.children) {
          a.children.push_back(load(child));
          if (a.children.back().length < a.length)
            fail(at(child), "a value for each of its struct's " + std::to_string(a.length) + " rows",
                 std::to_string(a.children.back().length));
        }
        break;
    }
    return a;
  }

  // Every node and buffer was taken: a count that differs means the batch was not written for this schema.
  void finish() const {
    if (next_node_ != nodes_.size() || next_buffer_ != buffers_.size())
      fail(message_.where, std::to_string(next_node_) + " field nodes and " + std::to_string(next_buffer_) +
                               " buffers (the schema's)",
           std::to_string(nodes_.size()) + " and " + std::to_string(buffers_.size()));
  }

 private:
  std::string at(const Column& c) const { return message_.where + ": column '" + c.path + "'"; }

  void take_node(Array& a) {
    const Column& c = *a.column;
    if (next_node_ >= nodes_.size())
      fail(at(c), "a field node for every column and nested column", std::to_string(nodes_.size()) + " nodes");
    a.length = nodes_.scalar<int64_t>(next_node_, 0);
    a.null_count = nodes_.scalar<int64_t>(next_node_, 8);
    ++next_node_;
    if (a.length < 0 || a.null_count < 0 || a.null_count > a.length)
      fail(at(c), "a length of 0 or more and a null count from 0 to it",
           "length " + std::to_string(a.length) + ", null count " + std::to_string(a.null_count));
  }

  Span take_buffer(const Column& c, const char* what) {
    if (next_buffer_ >= buffers_.size())
      fail(at(c), std::string("a buffer for its ") + what, "none left (" + std::to_string(buffers_.size()) + " in all)");
    const int64_t offset = buffers_.scalar<int64_t>(next_buffer_, 0), length = buffers_.scalar<int64_t>(next_buffer_, 8);
    ++next_buffer_;
    const Span& body = message_.body;
    if (offset < 0 || length < 0 || static_cast<uint64_t>(offset) > body.size ||
        static_cast<uint64_t>(length) > body.size - static_cast<uint64_t>(offset))
      fail(at(c), std::string("its ") + what + " inside the message's " + std::to_string(body.size) + "-byte body",
           std::to_string(length) + " bytes at offset " + std::to_string(offset) + " (a truncated or damaged file?)");
    return {body.data + offset, static_cast<uint64_t>(length)};
  }

  // length + 1 offsets, never decreasing, from 0 or more up to `limit` (the data's bytes, the child's items).
  void check_offsets(const Array& a, uint64_t limit, const char* of_what) const {
    const Column& c = *a.column;
    if (a.length == 0 && a.offsets.size == 0) return;  // an empty array may leave its offsets out
    const uint64_t count = static_cast<uint64_t>(a.length) + 1;
    if (a.offsets.size / static_cast<uint64_t>(c.byte_width) < count)
      fail(at(c), std::to_string(count) + " offsets of " + std::to_string(c.byte_width) + " bytes",
           std::to_string(a.offsets.size) + " bytes");
    int64_t previous = offset_at(a, 0);
    if (previous < 0) fail(at(c), "offsets of 0 or more", "a first offset of " + std::to_string(previous));
    for (int64_t i = 1; i <= a.length; ++i) {
      const int64_t offset = offset_at(a, i);
      if (offset < previous)
        fail(at(c), "offsets that never decrease",
             "offset " + std::to_string(i) + " = " + std::to_string(offset) + " after " + std::to_string(previous));
      previous = offset;
    }
    if (static_cast<uint64_t>(previous) > limit)
      fail(at(c), "offsets within its " + std::to_string(limit) + " " + of_what,
           "a last offset of " + std::to_string(previous));
  }

  const Message& message_;
  const flatbuffer::Vector& nodes_;
  const flatbuffer::Vector& buffers_;
  uint64_t next_node_ = 0, next_buffer_ = 0;
};

float half_to_float(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  float value = exponent == 0    ? std::ldexp(static_cast<float>(mantissa), -24)  // subnormal: m × 2^-24
                : exponent == 31 ? (mantissa ? NAN : INFINITY)
                                 : std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);  // 1.m × 2^(e-15)
  return (h & 0x8000) ? -value : value;
}

template <typename T>
T read_value(const Span& values, int64_t i) {
  T value;
  std::memcpy(&value, values.data + sizeof(T) * static_cast<uint64_t>(i), sizeof(T));
  return value;
}

}  // namespace

struct ArrowStreamReader::State {
  explicit State(const std::string& path) : file(path) {}
  MappedFile file;
  uint64_t position = 0;  // where the next message starts
  int message_number = 0;
  std::vector<Column> columns;
  std::vector<Array> arrays;  // the current record batch's columns
  int64_t batch_rows = 0, next_row = 0, rows_before = 0, row_index = -1;
  int64_t values_left = 0;  // of the row being built
  bool ended = false;

  // The message at `position`; false at the end-of-stream marker.
  bool next_message(std::unique_ptr<Message>& out) {
    const std::string& path = file.path();
    const uint64_t size = file.size(), at = position;
    const std::string where =
        path + ": message " + std::to_string(++message_number) + " (at byte " + std::to_string(at) + ")";
    auto u32 = [&](uint64_t p) {
      uint32_t v;
      std::memcpy(&v, file.data() + p, 4);
      return v;
    };
    if (size - at < 8)
      fail(where, "another message or the end-of-stream marker (0xFFFFFFFF 0x00000000)",
           size == at ? "the end of the file (it was cut short?)" : "only " + std::to_string(size - at) + " bytes");
    if (u32(at) != kContinuation)
      fail(where, "the continuation marker 0xFFFFFFFF that starts each message", "other bytes (a damaged file?)");
    const uint32_t length = u32(at + 4);
    if (length == 0) return false;
    if (length > size - at - 8)
      fail(where, "metadata within the file (" + std::to_string(size - at - 8) + " bytes left)",
           std::to_string(length) + " bytes (the file may be truncated)");
    auto message = std::make_unique<Message>(where, file.data() + at + 8, length);
    const auto root = flatbuffer::Table::root(message->metadata);
    const int16_t version = root.scalar<int16_t>(kMessageVersion, 0);
    if (version < kMetadataV4 || version > kMetadataV5)
      fail(where, "Arrow metadata version V4 or V5 (Arrow 0.8 or later)", "V" + std::to_string(version + 1));
    message->type = root.scalar<uint8_t>(kMessageHeaderType, 0);
    if (!root.has(kMessageHeader)) fail(where, "a message header", "none");
    const int64_t body_length = root.scalar<int64_t>(kMessageBodyLength, 0);
    const uint64_t body_at = at + 8 + length;
    if (body_length < 0 || static_cast<uint64_t>(body_length) > size - body_at)
      fail(where, "a body within the file (" + std::to_string(size - body_at) + " bytes left)",
           std::to_string(body_length) + " bytes (the file may be truncated)");
    message->body = {file.data() + body_at, static_cast<uint64_t>(body_length)};
    position = body_at + static_cast<uint64_t>(body_length);
    out = std::move(message);
    return true;
  }

  void read_schema() {
    const std::string& path = file.path();
    if (file.size() >= 8 && std::memcmp(file.data(), "ARROW1", 6) == 0) position = 8;  // a file: magic, padding, stream
    std::unique_ptr<Message> message;
    if (!next_message(message)) fail(path, "a schema as the stream's first message", "the end-of-stream marker");
    if (message->type != kSchema)
      fail(message->where, "a schema as the stream's first message", type_of(*message));
    const auto schema = flatbuffer::Table::root(message->metadata).table(kMessageHeader);
    if (schema.scalar<int16_t>(kSchemaEndianness, 0) != 0) fail(path, "little-endian data", "big-endian data");
    const flatbuffer::Vector fields = schema.vector(kSchemaFields, 4);
    if (fields.size() == 0) fail(path, "a schema with at least one column", "none");
    for (uint64_t i = 0; i < fields.size(); ++i) columns.push_back(parse_column(fields.table(i), "", false, 0, path));
    require_distinct_names(columns, path);
  }

  static std::string type_of(const Message& message) {
    return message.type < std::size(kMessageTypeNames) ? kMessageTypeNames[message.type]
                                                        : "message type #" + std::to_string(message.type);
  }

  void load_batch(const Message& message) {
    const auto batch = flatbuffer::Table::root(message.metadata).table(kMessageHeader);
    if (batch.has(kBatchCompression)) {
      const int8_t codec = batch.table(kBatchCompression).scalar<int8_t>(kCompressionCodec, 0);
      fail(message.where, "an uncompressed body (datasets writes none unless asked)",
           codec == 0 ? "LZ4 frame compression" : codec == 1 ? "ZSTD compression" : "compression #" + std::to_string(codec));
    }
    const int64_t length = batch.scalar<int64_t>(kBatchLength, 0);
    if (length < 0) fail(message.where, "a record batch of 0 or more rows", std::to_string(length));
    const flatbuffer::Vector nodes = batch.vector(kBatchNodes, kFieldNodeBytes);
    const flatbuffer::Vector buffers = batch.vector(kBatchBuffers, kBufferBytes);
    BatchLoader loader(message, nodes, buffers);
    arrays.clear();
    for (const Column& c : columns) {
      arrays.push_back(loader.load(c));
      if (arrays.back().length != length)
        fail(message.where + ": column '" + c.path + "'", std::to_string(length) + " values (the batch's rows)",
             std::to_string(arrays.back().length));
    }
    loader.finish();
    rows_before += batch_rows;
    batch_rows = length, next_row = 0;
  }

  json value(const Array& a, int64_t i) {
    const Column& c = *a.column;
    if (--values_left < 0)
      fail(file.path() + " row " + std::to_string(rows_before + next_row),
           "rows of at most " + std::to_string(kMaxRowValues) + " values", "more (in column '" + c.path + "')");
    if (c.kind == Kind::kNull || (a.null_count > 0 && !bit(a.validity, i))) return nullptr;
    switch (c.kind) {
      case Kind::kNull: return nullptr;
      case Kind::kBool: return bit(a.values, i);
      case Kind::kInt:
        switch (c.byte_width * (c.is_signed ? 1 : -1)) {
          case 1: return read_value<int8_t>(a.values, i);
          case 2: return read_value<int16_t>(a.values, i);
          case 4: return read_value<int32_t>(a.values, i);
          case 8: return read_value<int64_t>(a.values, i);
          case -1: return read_value<uint8_t>(a.values, i);
          case -2: return read_value<uint16_t>(a.values, i);
          case -4: return read_value<uint32_t>(a.values, i);
          default: return read_value<uint64_t>(a.values, i);
        }
      case Kind::kFloat:
        if (c.byte_width == 2) return half_to_float(read_value<uint16_t>(a.values, i));
        if (c.byte_width == 4) return read_value<float>(a.values, i);
        return read_value<double>(a.values, i);
      case Kind::kUtf8: {
        const int64_t begin = offset_at(a, i), end = offset_at(a, i + 1);
        std::string text(reinterpret_cast<const char*>(a.values.data) + begin, static_cast<size_t>(end - begin));
        const size_t bad = utf8::first_invalid(text);
        if (bad != std::string::npos)
          fail(file.path() + " row " + std::to_string(rows_before + next_row) + ": column '" + c.path + "'",
               "UTF-8 text (a string column)", "an invalid byte at byte " + std::to_string(bad));
        return text;
      }
      case Kind::kList: case Kind::kFixedSizeList: {
        const int64_t begin = c.kind == Kind::kList ? offset_at(a, i) : i * c.list_size;
        const int64_t end = c.kind == Kind::kList ? offset_at(a, i + 1) : begin + c.list_size;
        json items = json::array();
        for (int64_t j = begin; j < end; ++j) items.push_back(value(a.children[0], j));
        return items;
      }
      case Kind::kStruct: {
        json fields = json::object();
        for (const Array& child : a.children) fields[child.column->name] = value(child, i);
        return fields;
      }
    }
    return nullptr;
  }
};

ArrowStreamReader::ArrowStreamReader(const std::string& path) : state_(std::make_unique<State>(path)) {
  state_->read_schema();
}

ArrowStreamReader::~ArrowStreamReader() = default;

bool ArrowStreamReader::next(json& row) {
  State& s = *state_;
  while (s.next_row >= s.batch_rows) {
    if (s.ended) return false;
    std::unique_ptr<Message> message;
    if (!s.next_message(message)) {
      s.ended = true;
      return false;
    }
    if (message->type == kDictionaryBatch)
      fail(message->where, "record batches", "a dictionary batch (dictionary encoding, which rlhf does not read)");
    if (message->type != kRecordBatch) fail(message->where, "a record batch", State::type_of(*message));
    s.load_batch(*message);  // the arrays point into the mapped file, not into the message
  }
  row = json::object();
  s.values_left = kMaxRowValues;
  for (size_t c = 0; c < s.columns.size(); ++c) row[s.columns[c].name] = s.value(s.arrays[c], s.next_row);
  s.row_index = s.rows_before + s.next_row++;
  return true;
}

int64_t ArrowStreamReader::row_index() const { return state_->row_index; }

const std::string& ArrowStreamReader::path() const { return state_->file.path(); }

std::string ArrowStreamReader::schema_description() const {
  std::string out;
  for (const auto& c : state_->columns) out += (out.empty() ? "" : ", ") + c.name + ": " + type_name(c);
  return out;
}

bool starts_like_arrow(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[6] = {};
  in.read(head, sizeof head);
  const auto got = in.gcount();
  return (got >= 4 && std::memcmp(head, "\xFF\xFF\xFF\xFF", 4) == 0) || (got == 6 && std::memcmp(head, "ARROW1", 6) == 0);
}

}  // namespace rlhf
