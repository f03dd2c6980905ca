// JSONL (one JSON value per line), plain or gzip'ed, read line by line. Every bad line is an rlhf::Error that names
// "path:LINE" and what was expected; with skip_invalid the bad lines are counted instead, and the caller prints the count
// (ReadReport::summary) when the file is done. Empty lines are skipped silently.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"

namespace rlhf {

struct JsonlOptions {
  bool skip_invalid = false;  // count and skip malformed lines instead of failing on the first
};

struct JsonlLine {
  size_t line_number = 0;  // 1-based, counting every line of the file (empty ones too)
  std::string where;       // "path:LINE", the prefix of every error about this line
  nlohmann::json value;
};

// What reading a file did: the caller prints summary() at the end, so skipped lines are never silent.
struct ReadReport {
  std::string path;
  size_t accepted = 0;                     // lines turned into examples
  size_t skipped = 0;                      // malformed lines skipped (skip_invalid only)
  std::vector<std::string> first_skipped;  // the messages of the first few skipped lines
  // "PATH: 1499 examples, 1 invalid line skipped (first: PATH:1255: expected ..., found ...)"
  std::string summary() const;
  // Counts a skipped line (or row), keeping the first few messages.
  void skip(const std::string& message);
};

// Lines of a text file that may be gzip'ed (detected by its magic bytes, not its name), with their numbers.
class LineReader {
 public:
  explicit LineReader(std::string path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  // The next line without its "\n" (and without a "\r" before it); false at the end of the file.
  bool next(std::string& line);
  size_t line_number() const { return line_number_; }
  const std::string& path() const { return path_; }

 private:
  bool fill();  // reads more bytes into buffer_; false at the end of the file
  std::string path_;
  void* file_ = nullptr;  // a zlib gzFile (kept opaque so that users of this header need not include zlib.h)
  std::string buffer_;
  size_t start_ = 0;
  size_t line_number_ = 0;
  bool eof_ = false;
};

// The whole content of a file, gunzipped when it is gzip'ed.
std::string read_text(const std::string& path);

// Yields (line number, JSON) for each non-empty line. A line that is not valid JSON is an Error
// "path:LINE: expected a JSON value, found invalid JSON at column C: ..." or, with skip_invalid, counted and skipped.
class JsonlReader {
 public:
  explicit JsonlReader(std::string path, JsonlOptions options = {});
  bool next(JsonlLine& line);  // false at the end of the file
  // A line whose JSON parsed but whose content is wrong (the typed readers): rethrows `error`, or counts it when skipping.
  void reject(const Error& error);
  void accept() { ++report_.accepted; }
  const ReadReport& report() const { return report_; }

 private:
  LineReader lines_;
  JsonlOptions options_;
  ReadReport report_;
};

// Calls `handle` for every line; an rlhf::Error thrown by the JSON parser or by `handle` fails the read, or with
// skip_invalid is counted and the read goes on. Returns what was read and skipped.
ReadReport for_each_jsonl(const std::string& path, const JsonlOptions& options,
                          const std::function<void(const JsonlLine&)>& handle);

// A short description of a JSON value for "found ..." in messages: "number 3", "an empty string", "string \"ab…\"",
// "an array of 2 elements", "an object", "null".
std::string describe_json(const nlohmann::json& value);

}  // namespace rlhf
