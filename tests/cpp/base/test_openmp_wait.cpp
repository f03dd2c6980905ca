// The rule by which `rlhf` picks OpenMP's wait policy at start (src/common/openmp_wait.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/openmp_wait.h"

namespace rlhf {
namespace {

std::string chosen(int other_runnable, int threads, int cpus) {
  auto setting = choose_openmp_wait(other_runnable, threads, cpus);
  return setting.variable + "=" + setting.value;
}

TEST(OpenmpWait, SpinsBoundedWhileTheCoresItNeedsAreFree) {
  EXPECT_EQ(chosen(0, 2, 2), "GOMP_SPINCOUNT=10000");
  EXPECT_EQ(chosen(1, 1, 2), "GOMP_SPINCOUNT=10000");
  EXPECT_EQ(chosen(3, 4, 8), "GOMP_SPINCOUNT=10000");
}

TEST(OpenmpWait, WaitsPassivelyWhenOthersNeedTheCoresOrTheLoadIsUnknown) {
  EXPECT_EQ(chosen(1, 2, 2), "OMP_WAIT_POLICY=PASSIVE");  // one other runnable task and both cores asked for
  EXPECT_EQ(chosen(2, 2, 2), "OMP_WAIT_POLICY=PASSIVE");  // the measured 10x case: two busy processes beside
  EXPECT_EQ(chosen(0, 3, 2), "OMP_WAIT_POLICY=PASSIVE");  // more threads than cores
  EXPECT_EQ(chosen(-1, 1, 8), "OMP_WAIT_POLICY=PASSIVE"); // /proc unreadable
}

int threads_of(std::vector<std::string> arguments) {
  std::vector<char*> argv;
  for (auto& a : arguments) argv.push_back(a.data());
  return threads_from_arguments(static_cast<int>(argv.size()), argv.data(), 7);
}

TEST(OpenmpWait, ReadsThreadsFromTheCommandLineBeforeItIsParsed) {
  EXPECT_EQ(threads_of({"rlhf", "--threads", "3", "sft"}), 3);
  EXPECT_EQ(threads_of({"rlhf", "--threads=5", "ppo"}), 5);
  EXPECT_EQ(threads_of({"rlhf", "sft", "--model", "m"}), 7);     // absent: the fallback
  EXPECT_EQ(threads_of({"rlhf", "--threads", "two", "sft"}), 7); // not a number: CLI11 will say so; fallback here
  EXPECT_EQ(threads_of({"rlhf", "--threads", "0"}), 7);
  EXPECT_EQ(threads_of({"rlhf", "--threads"}), 7);
}

TEST(OpenmpWait, ReadsTheMachine) {
  EXPECT_GE(other_runnable_tasks(), 0);  // Linux has /proc/stat
  EXPECT_GE(available_cpus(), 1);
}

}  // namespace
}  // namespace rlhf
