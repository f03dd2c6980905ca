// Run logging for the training stages, torch-free: metrics.jsonl (one line per logged step) and TensorBoard event files
// so that `tensorboard --logdir RUNS` shows the curves without TensorFlow or protobuf on our side.
//
// The tfevents format (TensorFlow's record_writer + event.proto), written by hand:
//   each record:  uint64 length (little-endian) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
//   each data:    an Event protobuf {wall_time: double = 1, step: int64 = 2, file_version: string = 3,
//                 summary: Summary = 5 {value: repeated Value = 1 {tag: string = 1, simple_value: float = 2}},
//                 session_log: SessionLog = 7 {status: enum = 1 (START = 1)}}
//                 (field 6 is the deprecated log_message)
//   the first record of a file is an Event with file_version "brain.Event:2".
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rlhf {

// Named scalars in the order they were logged (the order metrics.jsonl and the progress bar show them in).
using Scalars = std::vector<std::pair<std::string, double>>;

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI and TFRecord. `crc` continues a previous
// value, so crc32c(b, crc32c(a)) == crc32c(a + b).
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);
// TFRecord's masking (a CRC of data that itself holds CRCs is weak): rotate right by 15 bits, add 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t size);

// The Event protobufs we write, serialised (exposed for tests).
std::string encode_file_version_event(double wall_time);
std::string encode_scalars_event(double wall_time, int64_t step, const Scalars& scalars);
std::string encode_session_start_event(double wall_time, int64_t step);
// One TFRecord around `data`: length, masked CRC of the length, data, masked CRC of the data.
std::string frame_record(const std::string& data);

// Seconds since the Unix epoch (the wall_time of both files).
double unix_time_now();

// An events.out.tfevents.* file in `folder`.
class TensorBoardWriter {
 public:
  explicit TensorBoardWriter(const std::string& folder);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;
  void add_scalars(int64_t step, const Scalars& scalars, double wall_time);
  // Tells TensorBoard that the run restarted at `step`: it then hides the events of earlier files with step >= `step`
  // (its purge of "orphaned" data), so a resumed run shows one curve, not two overlapping ones.
  void add_session_start(int64_t step, double wall_time);
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& data);
  std::string path_;
  std::FILE* file_ = nullptr;
};

// The run directory's logs. A fresh run (no resume_step) starts metrics.jsonl over and removes the event files of an
// earlier run in the same directory; a resumed run keeps the metrics.jsonl lines with step <= resume_step (dropping
// those logged after the checkpoint it resumes from, and a line torn by a crash) and appends after them.
class MetricsLogger {
 public:
  // `resume_lines`, when the checkpoint recorded lines_written(), keeps at most that many lines: a line logged after
  // the checkpoint at the checkpoint's own step (an epoch's eval_loss) would otherwise be logged twice.
  explicit MetricsLogger(const std::string& run_dir, std::optional<int64_t> resume_step = std::nullopt,
                         std::optional<int64_t> resume_lines = std::nullopt);
  ~MetricsLogger();
  MetricsLogger(const MetricsLogger&) = delete;
  MetricsLogger& operator=(const MetricsLogger&) = delete;
  // Appends {"step", "wall_time", scalars...} to metrics.jsonl and the scalars to the event file, then flushes both
  // (a crash loses nothing logged). A non-finite value is written as null in JSON (JSON has no NaN) and as is in
  // TensorBoard. A scalar named "step" or "wall_time" is an error.
  void log(int64_t step, const Scalars& scalars);
  void log(int64_t step, const Scalars& scalars, double wall_time);
  size_t lines_dropped_on_resume() const { return lines_dropped_; }
  int64_t lines_written() const { return lines_; }  // lines in metrics.jsonl now (kept on resume + logged)

 private:
  std::string metrics_path_;
  std::FILE* metrics_ = nullptr;
  std::optional<TensorBoardWriter> events_;
  size_t lines_dropped_ = 0;
  int64_t lines_ = 0;
};

}  // namespace rlhf
