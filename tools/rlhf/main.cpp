// rlhf: one binary, one subcommand per pipeline stage or tool.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "command.h"
#include "common/error.h"

namespace rlhf::cli {
std::vector<Command>& commands() {
  static std::vector<Command> list;
  return list;
}
}  // namespace rlhf::cli

namespace {

// LibTorch's CPU kernels run on OpenMP, whose threads spin while they wait for work. On a machine with other busy
// processes (a laptop, a CI runner, two builds) spinning threads steal the cores the working ones need: training was
// measured 10x slower with --threads 2 at load 4 on 2 cores, and back at full speed with OMP_WAIT_POLICY=passive
// (bench/RESULTS.md). OpenMP reads the variable when it is loaded, before main, so the process starts itself again
// once with it set. A user who sets OMP_WAIT_POLICY (e.g. ACTIVE on a dedicated machine) keeps their choice.
void default_to_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
}

}  // namespace

int main(int argc, char** argv) {
  default_to_passive_openmp(argv);
  // A file-size limit (ulimit -f) kills a process with SIGXFSZ by default, before any message or cleanup; ignored, the
  // write fails with EFBIG and AtomicWriter reports the path and leaves the previous file (and checkpoint) in place.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"rlhf: InstructGPT's pipeline (SFT -> reward model -> PPO) in C++ on LibTorch", "rlhf"};
  app.require_subcommand(1);
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  app.add_option("--threads", threads, "CPU threads for LibTorch (default: the cores available)")->capture_default_str();
  app.parse_complete_callback([&] { at::set_num_threads(threads); });
  auto& list = rlhf::cli::commands();
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& command : list) command.setup(*app.add_subcommand(command.name, command.help));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const rlhf::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "error (torch): " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    // Not an rlhf::Error: a check is missing somewhere (a bug to report), but the user still gets a message, not an abort.
    std::cerr << "error (unexpected): " << e.what() << "\n";
    return 1;
  }
  return 0;
}
