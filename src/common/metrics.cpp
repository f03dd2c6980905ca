#include "common/metrics.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/json.h"
#include "common/files.h"

namespace rlhf {

namespace {

// Byte-at-a-time table for the reflected Castagnoli polynomial; built once.
const std::array<uint32_t, 256>& crc32c_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

// Protocol-buffer wire format (developers.google.com/protocol-buffers/docs/encoding): a key is (field << 3 | wire
// type); wire types 0 = varint, 1 = 64-bit little-endian, 2 = length-delimited, 5 = 32-bit little-endian.
void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7F) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

void put_little_endian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

void put_key(std::string& out, int field, int wire_type) { put_varint(out, static_cast<uint64_t>(field << 3 | wire_type)); }

void put_double(std::string& out, int field, double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, 8);
  put_key(out, field, 1);
  put_little_endian(out, bits, 8);
}

void put_float(std::string& out, int field, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  put_key(out, field, 5);
  put_little_endian(out, bits, 4);
}

void put_int64(std::string& out, int field, int64_t value) {
  put_key(out, field, 0);
  put_varint(out, static_cast<uint64_t>(value));  // negative int64 is a 10-byte varint of its two's complement
}

void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

std::string event_header(double wall_time, std::optional<int64_t> step) {
  std::string event;
  put_double(event, 1, wall_time);
  if (step) put_int64(event, 2, *step);
  return event;
}

std::string reason() { return std::strerror(errno); }

}  // namespace

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
  const auto& table = crc32c_table();
  const auto* bytes = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ bytes[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string encode_file_version_event(double wall_time) {
  std::string event = event_header(wall_time, std::nullopt);
  put_bytes(event, 3, "brain.Event:2");
  return event;
}

std::string encode_scalars_event(double wall_time, int64_t step, const Scalars& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string summary_value;
    put_bytes(summary_value, 1, tag);
    put_float(summary_value, 2, static_cast<float>(value));
    put_bytes(summary, 1, summary_value);
  }
  std::string event = event_header(wall_time, step);
  put_bytes(event, 5, summary);
  return event;
}

std::string encode_session_start_event(double wall_time, int64_t step) {
  std::string session_log;
  put_key(session_log, 1, 0);
  put_varint(session_log, 1);  // SessionLog.START
  std::string event = event_header(wall_time, step);
  put_bytes(event, 7, session_log);
  return event;
}

std::string frame_record(const std::string& data) {
  std::string length;
  put_little_endian(length, data.size(), 8);
  std::string record = length;
  put_little_endian(record, masked_crc32c(length.data(), length.size()), 4);
  record += data;
  put_little_endian(record, masked_crc32c(data.data(), data.size()), 4);
  return record;
}

double unix_time_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

TensorBoardWriter::TensorBoardWriter(const std::string& folder) {
  make_dirs(folder);
  // TensorBoard finds event files by "tfevents" in the name and reads a folder's files in name order, and a resumed
  // run's file must come after the earlier ones (its restart marker purges their later steps): so the name starts with
  // the time, seconds and zero-padded microseconds; pid and a counter keep two writers apart even then.
  static std::atomic<int> counter{0};
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  double now = unix_time_now();
  char stamp[64];
  std::snprintf(stamp, sizeof(stamp), "%010lld.%06lld", static_cast<long long>(now),
                static_cast<long long>((now - std::floor(now)) * 1e6));
  path_ = (std::filesystem::path(folder) / ("events.out.tfevents." + std::string(stamp) + "." + host + "." +
                                            std::to_string(::getpid()) + "." + std::to_string(counter++))).string();
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) fail(path_, "a writable file", reason());
  write_record(encode_file_version_event(now));
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::write_record(const std::string& data) {
  std::string record = frame_record(data);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) fail(path_, "room to write", reason());
}

void TensorBoardWriter::add_scalars(int64_t step, const Scalars& scalars, double wall_time) {
  write_record(encode_scalars_event(wall_time, step, scalars));
}

void TensorBoardWriter::add_session_start(int64_t step, double wall_time) {
  write_record(encode_session_start_event(wall_time, step));
}

void TensorBoardWriter::flush() {
  if (std::fflush(file_) != 0) fail(path_, "room to write", reason());
}

MetricsLogger::MetricsLogger(const std::string& run_dir, std::optional<int64_t> resume_step,
                             std::optional<int64_t> resume_lines) {
  namespace fs = std::filesystem;
  make_dirs(run_dir);
  metrics_path_ = (fs::path(run_dir) / "metrics.jsonl").string();
  if (resume_step) {
    std::string kept;
    if (file_exists(metrics_path_)) {
      std::istringstream lines(read_file(metrics_path_));
      std::string line;
      while (std::getline(lines, line)) {
        auto value = parse_json_or_discarded(line);
        bool keep = value.is_object() && value.contains("step") && value["step"].is_number_integer() &&
                    value["step"].get<int64_t>() <= *resume_step && (!resume_lines || lines_ < *resume_lines);
        if (keep) kept += line + "\n", ++lines_;
        else ++lines_dropped_;
      }
    }
    write_file_atomic(metrics_path_, kept);
  } else {
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator(run_dir, ignored))
      if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) fs::remove(entry.path(), ignored);
  }
  metrics_ = std::fopen(metrics_path_.c_str(), resume_step ? "ab" : "wb");
  if (!metrics_) fail(metrics_path_, "a writable file", reason());
  events_.emplace(run_dir);
  if (resume_step) {
    events_->add_session_start(*resume_step + 1, unix_time_now());
    events_->flush();
  }
}

MetricsLogger::~MetricsLogger() {
  if (metrics_) std::fclose(metrics_);
}

void MetricsLogger::log(int64_t step, const Scalars& scalars) { log(step, scalars, unix_time_now()); }

void MetricsLogger::log(int64_t step, const Scalars& scalars, double wall_time) {
  nlohmann::ordered_json line;
  line["step"] = step;
  line["wall_time"] = wall_time;
  for (const auto& [name, value] : scalars) {
    if (line.contains(name)) fail(metrics_path_, "distinct scalar names other than step and wall_time", name);
    // nlohmann would write NaN as null anyway; saying it here keeps the choice visible.
    line[name] = std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
  }
  std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  if (std::fwrite(text.data(), 1, text.size(), metrics_) != text.size() || std::fflush(metrics_) != 0)
    fail(metrics_path_, "room to write", reason());
  ++lines_;
  events_->add_scalars(step, scalars, wall_time);
  events_->flush();
}

}  // namespace rlhf
