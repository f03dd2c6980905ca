// The progress display with an injected clock, writing into memory: plain lines when not a terminal, a bar otherwise.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/progress.h"

namespace rlhf {
namespace {

// A FILE* that collects what is written (open_memstream), plus a clock the test moves by hand.
struct Capture {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* stream = open_memstream(&buffer, &size);
  double time = 100;
  ~Capture() {
    std::fclose(stream);
    std::free(buffer);
  }
  std::string text() {
    std::fflush(stream);
    return std::string(buffer, size);
  }
  ProgressOptions options(int interactive) {
    ProgressOptions o;
    o.stream = stream;
    o.interactive = interactive;
    o.width = 80;
    o.clock = [this] { return time; };
    return o;
  }
};

TEST(Progress, FormatDuration) {
  EXPECT_EQ(format_duration(0), "00:00");
  EXPECT_EQ(format_duration(62.4), "01:02");
  EXPECT_EQ(format_duration(3662), "1:01:02");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(INFINITY), "?");
}

TEST(Progress, PlainLinesAtIntervals) {
  Capture capture;
  {
    ProgressBar bar("sft", 100, capture.options(0));
    capture.time += 10;
    bar.update(5, {{"loss", 2.5}});
    EXPECT_EQ(capture.text(), "");  // the first interval has not passed
    capture.time += 20;
    bar.update(10, {{"loss", 2.25}, {"kl", 0.0312345}});
    // 10 steps in 30 s: 3 s/it; 90 steps left: 270 s.
    EXPECT_EQ(capture.text(), "sft 10/100 (10%) 3 s/it elapsed 00:30 eta 04:30 loss=2.25 kl=0.03123\n");
    std::string before = capture.text();
    capture.time += 5;
    bar.update(11);
    EXPECT_EQ(capture.text(), before);  // nothing new within the interval
    capture.time += 115;
    bar.update(100);
  }  // the destructor would print the final line; update(100) already did, so it is not repeated
  std::string text = capture.text();
  EXPECT_EQ(text.substr(text.find('\n') + 1), "sft 100/100 (100%) 1.5 s/it elapsed 02:30 eta 00:00 loss=2.25 kl=0.03123\n");
}

TEST(Progress, BarRedrawsInPlace) {
  Capture capture;
  ProgressBar bar("ppo", 1000, capture.options(1));
  capture.time += 60;
  bar.update(370, {{"reward", 0.12}});
  std::string line = bar.bar_line(80);
  EXPECT_LE(line.size(), 80u);
  EXPECT_EQ(line.rfind("ppo  37%|", 0), 0u) << line;
  EXPECT_NE(line.find("| 370/1000 [01:00<01:42, 6.167 it/s] reward=0.12"), std::string::npos) << line;
  std::string text = capture.text();
  EXPECT_EQ(text.rfind("\r", 0), 0u);
  EXPECT_EQ(text.find('\n'), std::string::npos);  // a bar never scrolls
  bar.message("checkpoint saved");
  text = capture.text();
  EXPECT_NE(text.find("\r\x1b[Kcheckpoint saved\n\r"), std::string::npos);
  bar.finish();
  EXPECT_EQ(capture.text().back(), '\n');
}

TEST(Progress, NarrowTerminalAndUnknownTotal) {
  Capture capture;
  ProgressBar bar("rm", 0, capture.options(1));
  capture.time += 2;
  bar.update(4, {{"loss", 0.69}, {"accuracy", 0.5}});
  EXPECT_EQ(bar.bar_line(200), "rm 4 [00:02<?, 2 it/s] loss=0.69 accuracy=0.5");
  EXPECT_EQ(bar.bar_line(10), "rm 4 [00:0");
}

TEST(Progress, ShortRunStillPrintsItsFinalLine) {
  Capture capture;
  {
    ProgressBar bar("rm", 10, capture.options(0));
    capture.time += 4;
    bar.update(10, {{"accuracy", 0.75}});
  }
  EXPECT_EQ(capture.text(), "rm 10/10 (100%) 2.5 it/s elapsed 00:04 eta 00:00 accuracy=0.75\n");
}

TEST(Progress, ResumedRunCountsOnlyNewSteps) {
  Capture capture;
  ProgressOptions options = capture.options(0);
  options.initial_step = 50;
  ProgressBar bar("sft", 100, options);
  capture.time += 10;
  bar.update(60);
  EXPECT_EQ(bar.plain_line(), "sft 60/100 (60%) 1 it/s elapsed 00:10 eta 00:40");
}

}  // namespace
}  // namespace rlhf
