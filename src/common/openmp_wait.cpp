#include "common/openmp_wait.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

namespace rlhf {

OpenmpWaitSetting choose_openmp_wait(int other_runnable, int threads, int cpus) {
  // Unknown load is treated as busy: passive waiting is the choice that is never badly wrong.
  bool cores_free = other_runnable >= 0 && other_runnable + threads <= cpus;
  if (cores_free) return {"GOMP_SPINCOUNT", std::to_string(kBoundedSpinCount)};
  return {"OMP_WAIT_POLICY", "PASSIVE"};
}

namespace {
int procs_running() {
  std::ifstream in("/proc/stat");
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "procs_running" && in >> value) return static_cast<int>(value);
    in.ignore(1 << 20, '\n');
  }
  return -1;
}
}  // namespace

int other_runnable_tasks() {
  constexpr int kSamples = 5;
  int fewest = -1;
  for (int i = 0; i < kSamples; ++i) {
    int running = procs_running();
    if (running < 0) return -1;
    fewest = fewest < 0 ? running : std::min(fewest, running);
    if (i + 1 < kSamples) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return std::max(0, fewest - 1);  // this process is running while it reads
}

int threads_from_arguments(int argc, char** argv, int fallback) {
  auto parse = [&](const char* text) {
    char* end = nullptr;
    long value = std::strtol(text, &end, 10);
    return (end != text && *end == '\0' && value > 0 && value < (1 << 20)) ? static_cast<int>(value) : fallback;
  };
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == "--threads" && i + 1 < argc) return parse(argv[i + 1]);
    if (argument.rfind("--threads=", 0) == 0) return parse(argv[i] + 10);
  }
  return fallback;
}

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace rlhf
