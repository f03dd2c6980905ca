// Arrow IPC streams, read by hand from the public Arrow columnar-format spec: the data-*.arrow files of a folder that
// Hugging Face `datasets` wrote with save_to_disk. A stream is a sequence of encapsulated messages
//   0xFFFFFFFF, int32 metadata length, a flatbuffer Message (flatbuffer.h) padded to 8 bytes, the message's body
// closed by 0xFFFFFFFF 0x00000000. The first message is the Schema (the columns and their types); each RecordBatch after
// it holds a run of rows, its body holding every column's buffers (validity bitmap, offsets, values) in the schema's
// depth-first order. Each row becomes a JSON object {column: value}, what a JSONL line holds, so that the data readers
// (data/dataset_rows.h) take either. An Arrow *file* (magic "ARROW1", a stream inside, a footer) is read as its stream.
//
// Read: null, bool, int8..int64 and uint8..uint64, float16/32/64, utf8 and large_utf8, list, large_list and
// fixed_size_list, struct, any nesting of these, and nulls through validity bitmaps: the columns of TRL's datasets
// (`messages`: list<struct<role: string, content: string>>). Anything else (a compressed body, dictionary encoding,
// another type) is an rlhf::Error naming the file, the column and what was found; so is every length, offset or count
// that does not fit its buffer: a truncated or hostile file is never read past its end. The file is memory-mapped and
// one record batch is decoded at a time. No torch here.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace rlhf {

class ArrowStreamReader {
 public:
  explicit ArrowStreamReader(const std::string& path);  // reads the schema; fails on what it cannot read
  ~ArrowStreamReader();
  ArrowStreamReader(const ArrowStreamReader&) = delete;
  ArrowStreamReader& operator=(const ArrowStreamReader&) = delete;

  // The next row as {column: value, ...}; false after the last one (the stream's end-of-stream marker is required:
  // without it the file was cut short).
  bool next(nlohmann::json& row);
  int64_t row_index() const;  // 0-based, in the file, of the row next() returned last (`dataset[i]` of a one-file split)
  const std::string& path() const;
  // The schema as Arrow prints types: "messages: list<struct<role: string, content: string>>, score: double".
  std::string schema_description() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// True when `path` holds an Arrow stream or file: it starts with the continuation marker 0xFFFFFFFF or "ARROW1".
bool starts_like_arrow(const std::string& path);

}  // namespace rlhf
