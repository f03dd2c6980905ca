// Where time goes inside a piece of work: LibTorch's own profiler (Kineto, CPU ops), summed per op name with self time
// (an op's time minus that of the ops it called), so that a slow decode step can be read op by op.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::bench {

struct OpTime {
  std::string name;      // ATen op, e.g. "aten::addmm"
  int64_t calls = 0;
  double total_ms = 0;   // including the ops it called
  double self_ms = 0;    // excluding them
};

struct Profile {
  double wall_ms = 0;          // of the profiled work (the profiler's own overhead included)
  std::vector<OpTime> ops;     // by self time, largest first
};

Profile profile_ops(const std::function<void()>& work);

// The same, for work that starts and ends in different places (a phase inside a training loop's observer).
class OpProfiler {
 public:
  void start();
  Profile stop();

 private:
  std::chrono::steady_clock::time_point started_;
};

nlohmann::json to_json(const Profile& profile, size_t top = 20);
std::string profile_table(const Profile& profile, size_t top = 20);

}  // namespace rlhf::bench
