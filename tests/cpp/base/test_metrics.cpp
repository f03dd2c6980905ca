// CRC-32C against published vectors, the Event protobuf bytes against the wire-format spec assembled by hand, and the
// run logger's files. tests/python/test_tensorboard.py reads the event file with an independent reader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/metrics.h"

namespace rlhf {
namespace {

namespace fs = std::filesystem;

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out += static_cast<char>(v);
  return out;
}

std::string fresh_dir(const std::string& name) {
  fs::path dir = fs::path(::testing::TempDir()) / ("metrics_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  return dir.string();
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::vector<std::string> event_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// RFC 3720 (iSCSI) appendix B.4 gives these CRC-32C results; 0xE3069283 is the usual check value of "123456789".
TEST(Crc32c, KnownVectors) {
  std::string zeros(32, '\0'), ones(32, '\xFF'), up, down;
  for (int i = 0; i < 32; ++i) up += static_cast<char>(i), down += static_cast<char>(31 - i);
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(crc32c(up.data(), up.size()), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down.data(), down.size()), 0x113FDB5Cu);
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(Crc32c, ContinuesAcrossPieces) {
  EXPECT_EQ(crc32c("6789", 4, crc32c("12345", 5)), 0xE3069283u);
}

// Masking per TensorFlow's crc32c.h: ((crc >> 15) | (crc << 17)) + 0xa282ead8; the expected values come from a
// bit-at-a-time Python CRC with that formula applied.
TEST(Crc32c, Masked) {
  EXPECT_EQ(masked_crc32c("123456789", 9), 0xC78AB0E5u);
  EXPECT_EQ(masked_crc32c("", 0), 0xA282EAD8u);
  std::string eight_zeros(8, '\0');
  EXPECT_EQ(masked_crc32c(eight_zeros.data(), 8), 0x07980329u);
}

TEST(Events, ScalarEventBytes) {
  // Event{wall_time=1.5 (field 1, fixed64), step=3 (field 2, varint), summary (field 5) {value (field 1) {tag "loss"
  // (field 1), simple_value 0.5f (field 2, fixed32)}}}
  std::string expected = bytes({0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x10, 0x03, 0x2A, 0x0D, 0x0A, 0x0B, 0x0A, 0x04}) +
                         "loss" + bytes({0x15, 0, 0, 0, 0x3F});
  EXPECT_EQ(encode_scalars_event(1.5, 3, {{"loss", 0.5}}), expected);
  // 300 needs two varint bytes: 0xAC 0x02.
  std::string big_step = encode_scalars_event(0, 300, {});
  EXPECT_EQ(big_step.substr(9), bytes({0x10, 0xAC, 0x02, 0x2A, 0x00}));
}

TEST(Events, FileVersionAndSessionStartBytes) {
  EXPECT_EQ(encode_file_version_event(0), bytes({0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x1A, 0x0D}) + "brain.Event:2");
  EXPECT_EQ(encode_session_start_event(0, 5), bytes({0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x05, 0x3A, 0x02, 0x08, 0x01}));
}

TEST(Events, RecordFraming) {
  std::string record = frame_record("");
  EXPECT_EQ(record, std::string(8, '\0') + bytes({0x29, 0x03, 0x98, 0x07}) + bytes({0xD8, 0xEA, 0x82, 0xA2}));
  std::string data = "abc";
  std::string framed = frame_record(data);
  ASSERT_EQ(framed.size(), 8u + 4 + 3 + 4);
  EXPECT_EQ(framed.substr(0, 8), bytes({3, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(framed.substr(12, 3), "abc");
}

// The logged values are a fixed formula that tests/python/test_tensorboard.py repeats: step s in 0..4 logs
// loss = 1/(s+1), reward = s/2, "ppo/kl" = s/100, and wall_time 1000 + s. With RLHF_TB_OUT set the run directory is
// left there (RLHF_TB_OUT/plain) for the Python reader.
TEST(Metrics, WritesEventsForPythonReader) {
  const char* out = std::getenv("RLHF_TB_OUT");
  std::string dir = out ? std::string(out) + "/plain" : fresh_dir("python");
  {
    MetricsLogger logger(dir);
    for (int s = 0; s < 5; ++s)
      logger.log(s, {{"loss", 1.0 / (s + 1)}, {"reward", s / 2.0}, {"ppo/kl", s / 100.0}}, 1000 + s);
  }
  std::ifstream in(dir + "/metrics.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u);
  // Keys in the order logged; doubles with enough digits to round-trip.
  EXPECT_EQ(lines[2], R"({"step":2,"wall_time":1002.0,"loss":0.3333333333333333,"reward":1.0,"ppo/kl":0.02})");
  ASSERT_EQ(event_files(dir).size(), 1u);
  // 1 file_version record + 5 scalar records, each framed as 8 + 4 + data + 4 bytes.
  std::string events = read_file(event_files(dir)[0]);
  size_t records = 0;
  for (size_t at = 0; at + 12 <= events.size(); ++records) {
    uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = length << 8 | static_cast<unsigned char>(events[at + i]);
    at += 16 + length;
  }
  EXPECT_EQ(records, 6u);
}

// A run that logs steps 0..9 (loss = s), then resumes from a checkpoint at step 4 and logs 5..7 (loss = 100 + s):
// TensorBoard must show 0..4 from the first file and 5..7 from the second (test_tensorboard.py checks with its reader).
TEST(Metrics, WritesEventsForPythonReaderAfterResume) {
  const char* out = std::getenv("RLHF_TB_OUT");
  std::string dir = out ? std::string(out) + "/resumed" : fresh_dir("python_resumed");
  {
    MetricsLogger logger(dir);
    for (int s = 0; s < 10; ++s) logger.log(s, {{"loss", double(s)}}, 2000 + s);
  }
  MetricsLogger logger(dir, 4);
  for (int s = 5; s < 8; ++s) logger.log(s, {{"loss", 100.0 + s}}, 3000 + s);
  EXPECT_EQ(read_jsonl(dir + "/metrics.jsonl").size(), 8u);
  EXPECT_EQ(event_files(dir).size(), 2u);
}

TEST(Metrics, NonFiniteIsNullInJson) {
  std::string dir = fresh_dir("nan");
  MetricsLogger logger(dir);
  logger.log(1, {{"loss", std::nan("")}, {"kl", INFINITY}}, 5);
  auto lines = read_jsonl(dir + "/metrics.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0]["loss"].is_null());
  EXPECT_TRUE(lines[0]["kl"].is_null());
}

TEST(Metrics, ReservedNamesAreAnError) {
  std::string dir = fresh_dir("reserved");
  MetricsLogger logger(dir);
  EXPECT_THROW(logger.log(1, {{"step", 1.0}}), Error);
  EXPECT_THROW(logger.log(1, {{"loss", 1.0}, {"loss", 2.0}}), Error);
}

TEST(Metrics, ResumeKeepsStepsUpToTheCheckpoint) {
  std::string dir = fresh_dir("resume");
  {
    MetricsLogger logger(dir);
    for (int s = 0; s < 10; ++s) logger.log(s, {{"loss", double(s)}});
  }
  { std::ofstream(dir + "/metrics.jsonl", std::ios::app) << "{\"step\": 10, \"lo"; }  // torn by a crash
  {
    MetricsLogger logger(dir, 4);
    EXPECT_EQ(logger.lines_dropped_on_resume(), 6u);  // steps 5..9 and the torn line
    for (int s = 5; s < 7; ++s) logger.log(s, {{"loss", double(s)}});
  }
  auto lines = read_jsonl(dir + "/metrics.jsonl");
  ASSERT_EQ(lines.size(), 7u);
  for (int s = 0; s < 7; ++s) EXPECT_EQ(lines[s]["step"], s);
  auto files = event_files(dir);
  ASSERT_EQ(files.size(), 2u);
  // The second file says "restarted at step 5" right after its file_version record.
  std::string second = read_file(files[1]);
  std::string version_record = frame_record(encode_file_version_event(0));
  std::string start = second.substr(version_record.size() + 12, 15);
  EXPECT_EQ(start.substr(9), bytes({0x10, 0x05, 0x3A, 0x02, 0x08, 0x01}));

  // A fresh run in the same directory starts both files over.
  MetricsLogger fresh(dir);
  fresh.log(0, {{"loss", 1.0}});
  EXPECT_EQ(read_jsonl(dir + "/metrics.jsonl").size(), 1u);
  EXPECT_EQ(event_files(dir).size(), 1u);
}

}  // namespace
}  // namespace rlhf
