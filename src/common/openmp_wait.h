// How LibTorch's OpenMP threads wait between parallel regions, chosen once when `rlhf` starts (torch-free, so the rule
// is unit-tested without LibTorch).
//
// GNU OpenMP (the libgomp inside PyPI's torch wheel) lets an idle thread spin before it sleeps: 300,000 spins by
// default, forever under OMP_WAIT_POLICY=ACTIVE, never under PASSIVE. Measured on the 2-core CI machine
// (bench/RESULTS.md, "OpenMP wait policy"):
//   - quiet machine: spinning makes a PPO iteration 25-30 % faster than PASSIVE (many small ops, each a fork/join);
//   - busy machine (two other runnable processes on 2 cores): the default spin made a PPO bench 10x slower than
//     PASSIVE (a spinning thread holds a core the working one needs), a bounded spin of 10,000 about 1.3x slower.
// So: spin a bounded 10,000 when the cores our threads need are free at start, wait passively when they are not. A
// wrong guess (the machine gets busy later) costs ~30 %, never 10x. A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
#pragma once
#include <string>

namespace rlhf {

struct OpenmpWaitSetting {
  std::string variable;  // the environment variable to set: "GOMP_SPINCOUNT" or "OMP_WAIT_POLICY"
  std::string value;
};

constexpr int kBoundedSpinCount = 10000;

// other_runnable: tasks ready to run besides this process (negative: unknown); threads: LibTorch threads this run (and
// the ranks started beside it) uses; cpus: the cores this process may run on. Called only when the user set neither
// OMP_WAIT_POLICY nor GOMP_SPINCOUNT.
OpenmpWaitSetting choose_openmp_wait(int other_runnable, int threads, int cpus);

// Runnable tasks on the machine besides this one: the smallest of a few samples of /proc/stat's procs_running, minus
// this process (the smallest, so that a task that runs for a moment is not counted); -1 where /proc is unreadable.
int other_runnable_tasks();

// The value of --threads N / --threads=N in argv (before the subcommand parser has run), or fallback.
int threads_from_arguments(int argc, char** argv, int fallback);

// The cores this process may run on (its affinity mask; the machine's count where that is unavailable).
int available_cpus();

}  // namespace rlhf
