#include "common/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace rlhf {

namespace {

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.4g", value);
  return text;
}

int terminal_width(std::FILE* stream) {
  struct winsize size{};
  if (::ioctl(::fileno(stream), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    int value = std::atoi(columns);
    if (value > 0) return value;
  }
  return 100;
}

// Cuts `text` to `width` display columns, counting UTF-8 lead bytes only (scalar names may be non-ASCII).
std::string fit(const std::string& text, int width) {
  int columns = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && ++columns > width) return text.substr(0, i);
  }
  return text;
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto total = static_cast<long long>(std::llround(seconds));
  long long hours = total / 3600, minutes = total / 60 % 60, secs = total % 60;
  char text[48];
  if (hours > 0) std::snprintf(text, sizeof(text), "%lld:%02lld:%02lld", hours, minutes, secs);
  else std::snprintf(text, sizeof(text), "%02lld:%02lld", minutes, secs);
  return text;
}

ProgressBar::ProgressBar(std::string label, int64_t total, ProgressOptions options)
    : label_(std::move(label)), total_(std::max<int64_t>(total, 0)), options_(std::move(options)) {
  if (!options_.clock) {
    options_.clock = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    };
  }
  if (options_.interactive < 0) {
    const char* term = std::getenv("TERM");
    interactive_ = ::isatty(::fileno(options_.stream)) && !(term && std::strcmp(term, "dumb") == 0);
  } else {
    interactive_ = options_.interactive > 0;
  }
  step_ = options_.initial_step;
  start_time_ = now();
  // Plain mode waits one interval before its first line; a bar shows up at once.
  if (!interactive_) last_draw_ = start_time_;
}

ProgressBar::~ProgressBar() { finish(); }

double ProgressBar::now() const { return options_.clock(); }

double ProgressBar::rate() const {
  double elapsed = now() - start_time_;
  int64_t done = step_ - options_.initial_step;
  return elapsed > 0 && done > 0 ? done / elapsed : 0;
}

std::string ProgressBar::scalars_text() const {
  std::string text;
  for (const auto& [name, value] : latest_) text += " " + name + "=" + format_number(value);
  return text;
}

// tqdm shows seconds per step once steps are slower than one per second; PPO steps often are.
static std::string rate_text(double rate) {
  if (rate <= 0) return "? it/s";
  return rate >= 1 ? format_number(rate) + " it/s" : format_number(1 / rate) + " s/it";
}

std::string ProgressBar::bar_line(int width) const {
  double elapsed = now() - start_time_, speed = rate();
  std::string counts = std::to_string(step_) + (total_ > 0 ? "/" + std::to_string(total_) : "");
  std::string eta = total_ > 0 && speed > 0 ? format_duration((total_ - step_) / speed) : "?";
  std::string right = " " + counts + " [" + format_duration(elapsed) + "<" + eta + ", " + rate_text(speed) + "]" +
                      scalars_text();
  if (total_ <= 0) return fit(label_ + right, width);
  double fraction = std::clamp(static_cast<double>(step_) / total_, 0.0, 1.0);
  char percent[8];
  std::snprintf(percent, sizeof(percent), "%3d%%", static_cast<int>(fraction * 100));
  std::string left = label_ + " " + percent + "|";
  // The bar takes what the text leaves, between 10 and 40 columns.
  int cells = std::clamp(width - static_cast<int>(left.size() + right.size()) - 1, 10, 40);
  int filled = static_cast<int>(fraction * cells);
  return fit(left + std::string(filled, '#') + std::string(cells - filled, '-') + "|" + right, width);
}

std::string ProgressBar::plain_line() const {
  double elapsed = now() - start_time_, speed = rate();
  std::string text = label_ + " " + std::to_string(step_);
  if (total_ > 0) {
    char percent[16];
    std::snprintf(percent, sizeof(percent), " (%d%%)", static_cast<int>(100.0 * step_ / total_));
    text += "/" + std::to_string(total_) + percent;
  }
  text += " " + rate_text(speed) + " elapsed " + format_duration(elapsed);
  if (total_ > 0) text += " eta " + (speed > 0 ? format_duration((total_ - step_) / speed) : std::string("?"));
  return text + scalars_text();
}

void ProgressBar::draw() {
  last_draw_ = now();
  changed_ = false;
  if (interactive_) {
    int width = options_.width > 0 ? options_.width : terminal_width(options_.stream);
    // Stay one column short of the edge: a line that fills it wraps on some terminals and "\r" then redraws below.
    std::fprintf(options_.stream, "\r%s\x1b[K", bar_line(width - 1).c_str());
    drawn_ = true;
  } else {
    std::fprintf(options_.stream, "%s\n", plain_line().c_str());
  }
  std::fflush(options_.stream);
}

void ProgressBar::update(int64_t step, const Scalars& latest) {
  if (finished_) return;
  changed_ = changed_ || step != step_ || (!latest.empty() && latest != latest_);
  step_ = step;
  if (!latest.empty()) latest_ = latest;
  double interval = interactive_ ? options_.redraw_interval_s : options_.plain_interval_s;
  if (now() - last_draw_ >= interval) draw();
}

void ProgressBar::message(const std::string& line) {
  if (interactive_ && drawn_) std::fprintf(options_.stream, "\r\x1b[K");
  std::fprintf(options_.stream, "%s\n", line.c_str());
  drawn_ = false;
  if (interactive_ && !finished_) draw();
  std::fflush(options_.stream);
}

void ProgressBar::finish() {
  if (finished_) return;
  if (changed_ || interactive_) draw();
  if (interactive_) std::fprintf(options_.stream, "\n");
  std::fflush(options_.stream);
  finished_ = true;
}

}  // namespace rlhf
