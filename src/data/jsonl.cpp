#include "data/jsonl.h"

#include <sys/stat.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "common/json.h"

namespace rlhf {

using json = nlohmann::json;

namespace {

constexpr size_t kChunk = 1 << 16;
constexpr size_t kMaxLineBytes = size_t{64} << 20;
constexpr size_t kKeepSkippedMessages = 3;

gzFile as_gz(void* file) { return static_cast<gzFile>(file); }

// zlib's message for the file's current error state ("" when none).
std::string gz_message(gzFile file, int* code) {
  const char* message = gzerror(file, code);
  if (*code == Z_ERRNO) return std::strerror(errno);
  return message ? message : "";
}

}  // namespace

std::string describe_json(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::discarded: return "nothing";
    case json::value_t::boolean: return value.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "number " + value.dump();
    case json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (text.empty()) return "an empty string";
      // dump() escapes newlines and quotes, so the message stays on one line; text from a CSV may not be valid UTF-8.
      return "string " + json(utf8_prefix(text, 40)).dump(-1, ' ', false, json::error_handler_t::replace);
    }
    case json::value_t::array:
      if (value.empty()) return "an empty array";
      return "an array of " + std::to_string(value.size()) + (value.size() == 1 ? " element" : " elements");
    case json::value_t::object: return value.empty() ? "an empty object" : "an object";
    case json::value_t::binary: return "binary data";
  }
  return "an unknown value";
}

std::string ReadReport::summary() const {
  std::string text = path + ": " + std::to_string(accepted) + (accepted == 1 ? " example" : " examples");
  if (skipped > 0) {
    text += ", " + std::to_string(skipped) + (skipped == 1 ? " invalid line skipped" : " invalid lines skipped");
    if (!first_skipped.empty()) text += " (first: " + first_skipped.front() + ")";
  }
  return text;
}

LineReader::LineReader(std::string path) : path_(std::move(path)) {
  struct stat info{};
  if (::stat(path_.c_str(), &info) != 0) fail(path_, "a readable file", std::strerror(errno));
  if (S_ISDIR(info.st_mode)) fail(path_, "a file", "a directory");
  // gzopen reads a file without the gzip magic bytes as is ("transparent" mode), so plain and .gz share this path.
  gzFile file = gzopen(path_.c_str(), "rb");
  if (!file) fail(path_, "a readable file", errno ? std::strerror(errno) : "zlib could not open it");
  gzbuffer(file, kChunk);
  file_ = file;
}

LineReader::~LineReader() {
  if (file_) gzclose(as_gz(file_));
}

bool LineReader::fill() {
  if (eof_) return false;
  // Drop the lines already handed out before growing the buffer, so a huge file never accumulates.
  buffer_.erase(0, start_);
  start_ = 0;
  size_t old_size = buffer_.size();
  buffer_.resize(old_size + kChunk);
  int n = gzread(as_gz(file_), &buffer_[old_size], static_cast<unsigned>(kChunk));
  int code = Z_OK;
  if (n < 0) fail(path_, "a readable file", gz_message(as_gz(file_), &code));
  buffer_.resize(old_size + static_cast<size_t>(n));
  if (n == 0) {
    eof_ = true;
    // gzread reports a gzip stream cut short only through gzerror (it returns the data it had, then 0).
    std::string message = gz_message(as_gz(file_), &code);
    if (code == Z_BUF_ERROR)
      fail(path_ + ":" + std::to_string(line_number_ + 1), "a complete gzip stream", "a truncated file");
    if (code != Z_OK) fail(path_, "a readable gzip file", message);
    return false;
  }
  return true;
}

bool LineReader::next(std::string& line) {
  size_t scanned = start_;
  for (;;) {
    size_t newline = buffer_.find('\n', scanned);
    if (newline != std::string::npos) {
      line.assign(buffer_, start_, newline - start_);
      start_ = newline + 1;
      break;
    }
    scanned = buffer_.size() - start_;  // fill() moves the unread part to the front
    // A line is held whole: without a bound, /dev/zero or a binary file grew it until std::bad_alloc.
    if (scanned > kMaxLineBytes)
      fail(path_ + ":" + std::to_string(line_number_ + 1), "lines of at most 64 MiB (text, one record a line)",
           "a longer one (a device such as /dev/zero, or a file that is not text?)");
    if (!fill()) {
      if (start_ >= buffer_.size()) return false;
      line.assign(buffer_, start_, std::string::npos);  // a last line without "\n"
      start_ = buffer_.size();
      break;
    }
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  ++line_number_;
  return true;
}

std::string read_text(const std::string& path) {
  LineReader reader(path);
  std::string text, line;
  // Rejoined with "\n": a CSV field may hold a line break, and "\r\n" files become "\n" ones on the way.
  while (reader.next(line)) text += line, text += '\n';
  return text;
}

JsonlReader::JsonlReader(std::string path, JsonlOptions options)
    : lines_(std::move(path)), options_(options) {
  report_.path = lines_.path();
}

void ReadReport::skip(const std::string& message) {
  ++skipped;
  if (first_skipped.size() < kKeepSkippedMessages) first_skipped.push_back(message);
}

void JsonlReader::reject(const Error& error) {
  if (!options_.skip_invalid) throw error;
  report_.skip(error.what());
}

bool JsonlReader::next(JsonlLine& out) {
  std::string text;
  while (lines_.next(text)) {
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    out.line_number = lines_.line_number();
    out.where = lines_.path() + ":" + std::to_string(out.line_number);
    try {
      check_json_nesting(text, out.where);  // a deeper value would overflow the stack once printed or copied
    } catch (const Error& error) {
      reject(error);
      continue;
    }
    try {
      out.value = json::parse(text);
      return true;
    } catch (const json::exception& e) {
      // nlohmann says "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."; keep what
      // helps a user (column and reason).
      std::string reason = e.what();
      size_t column = reason.find("column ");
      reason = column == std::string::npos ? reason : reason.substr(column);
      reject(Error(out.where + ": expected a JSON value, found invalid JSON at " + reason));
    }
  }
  return false;
}

ReadReport for_each_jsonl(const std::string& path, const JsonlOptions& options,
                          const std::function<void(const JsonlLine&)>& handle) {
  JsonlReader reader(path, options);
  JsonlLine line;
  while (reader.next(line)) {
    try {
      handle(line);
      reader.accept();
    } catch (const Error& error) {
      reader.reject(error);
    }
  }
  return reader.report();
}

}  // namespace rlhf
