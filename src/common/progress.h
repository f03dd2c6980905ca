// A progress display for the training stages: on a terminal a live bar redrawn in place
//   "ppo  37%|#######-----------| 370/1000 [01:02<01:46, 5.93 it/s] loss=2.314 reward=0.12 kl=0.031"
// and, when the stream is not a terminal (a log file, CI), a plain line every `plain_interval_s` seconds and at the end
//   "ppo 370/1000 (37%) 5.93 it/s elapsed 01:02 eta 01:46 loss=2.314 reward=0.12 kl=0.031"
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "common/metrics.h"

namespace rlhf {

struct ProgressOptions {
  std::FILE* stream = stderr;     // stderr, so that stdout stays for results
  int interactive = -1;           // -1: a live bar when `stream` is a terminal (and TERM is not "dumb"); 0: plain; 1: bar
  double plain_interval_s = 30;   // plain mode: at most one line per interval (plus the final one)
  double redraw_interval_s = 0.1; // bar mode: at most this many redraws per second, so drawing never costs time
  int width = 0;                  // bar mode: line width; 0 = the terminal's (else $COLUMNS, else 100)
  int64_t initial_step = 0;       // a resumed run starts here: the rate counts only the steps done in this process
  std::function<double()> clock;  // seconds, monotonic; the steady clock unless a test injects one
};

class ProgressBar {
 public:
  // total = the number of steps (0 when unknown: no percentage or ETA then).
  ProgressBar(std::string label, int64_t total, ProgressOptions options = {});
  ~ProgressBar();  // finish() if not done
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // `step` steps are done; `latest` are the scalars to show (loss, reward, KL, ...), replacing the previous ones.
  void update(int64_t step, const Scalars& latest = {});
  // Prints a line of text above the bar without breaking it (a log message in the middle of training).
  void message(const std::string& line);
  // Draws the final state and ends the line. Later calls do nothing.
  void finish();

  // The text of the bar line or the plain line for the current state (exposed for tests).
  std::string bar_line(int width) const;
  std::string plain_line() const;
  bool interactive() const { return interactive_; }

 private:
  double now() const;
  void draw();
  double rate() const;  // steps per second since the start (0 when nothing is done yet)
  std::string scalars_text() const;

  std::string label_;
  int64_t total_;
  ProgressOptions options_;
  bool interactive_ = false;
  bool finished_ = false;
  bool drawn_ = false;    // a bar line is on screen (message() must clear it first)
  bool changed_ = true;   // the state differs from what was last drawn (finish() does not repeat a plain line)
  double start_time_ = 0, last_draw_ = -1e300;
  int64_t step_ = 0;
  Scalars latest_;
};

// "01:02", "1:01:02" (hours when needed), "?" for a negative or non-finite number of seconds.
std::string format_duration(double seconds);

}  // namespace rlhf
