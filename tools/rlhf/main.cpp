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
#include "common/cpu_features.h"
#include "common/error.h"
#include "common/openmp_wait.h"
#include "model/cpu_allocator.h"
#include "model/cpu_linear.h"

namespace rlhf::cli {
std::vector<Command>& commands() {
  static std::vector<Command> list;
  return list;
}
}  // namespace rlhf::cli

namespace {

int default_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

// LibTorch's CPU kernels run on OpenMP, whose idle threads spin before they sleep. Spinning pays on a quiet machine
// and costs up to 10x on a busy one (src/common/openmp_wait.h has the figures and the rule). OpenMP reads its variables
// when it is loaded, before main, so the process starts itself again once with the chosen one set; a user who set
// OMP_WAIT_POLICY or GOMP_SPINCOUNT keeps their choice (and the second start sees the variable and goes on).
void choose_openmp_wait_policy(int argc, char** argv) {
  bool user_has_chosen = std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr;
  if (user_has_chosen) return;
  // Ranks started together on one node (torchrun's LOCAL_WORLD_SIZE) share its cores.
  int threads = rlhf::threads_from_arguments(argc, argv, default_threads());
  if (const char* ranks_here = std::getenv("LOCAL_WORLD_SIZE")) threads *= std::max(1, std::atoi(ranks_here));
  auto setting = rlhf::choose_openmp_wait(rlhf::other_runnable_tasks(), threads, rlhf::available_cpus());
  if (setenv(setting.variable.c_str(), setting.value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
}

}  // namespace

int main(int argc, char** argv) {
  choose_openmp_wait_policy(argc, argv);
  // A file-size limit (ulimit -f) kills a process with SIGXFSZ by default, before any message or cleanup; ignored, the
  // write fails with EFBIG and AtomicWriter reports the path and leaves the previous file (and checkpoint) in place.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"rlhf: InstructGPT's pipeline (SFT -> reward model -> PPO) in C++ on LibTorch", "rlhf"};
  app.require_subcommand(1);
  int threads = default_threads();
  app.add_option("--threads", threads, "CPU threads for LibTorch (default: the cores available)")->capture_default_str();
  std::string cpu_allocator = "caching";
  app.add_option("--cpu_allocator", cpu_allocator,
                 "CPU tensor memory: caching (blocks of 1 MB and more kept for reuse, src/model/cpu_allocator.h) or "
                 "system (malloc, LibTorch's default)")
      ->check(CLI::IsMember({"caching", "system"}))
      ->capture_default_str();
  bool cudnn_attention = true;
  app.add_option("--cudnn_attention", cudnn_attention,
                 "CUDA: let training and scoring forwards use cuDNN's attention (LibTorch's default; generation never does: "
                 "cuDNN plans each new sequence length, src/model/generate.cpp)")
      ->capture_default_str();
  std::string cpu_fp32_matmul = "onednn";
  app.add_option("--cpu_fp32_matmul", cpu_fp32_matmul,
                 "fp32 linear layers on the CPU: onednn (oneDNN's products; MKL runs AVX2 code on AMD CPUs, "
                 "src/model/cpu_linear.h) or aten (LibTorch's default, MKL)")
      ->check(CLI::IsMember({"onednn", "aten"}))
      ->capture_default_str();
  const char* isa_variable = std::getenv("RLHF_CPU_ISA");
  std::string cpu_isa = isa_variable && *isa_variable ? isa_variable : "native";
  app.add_option("--cpu_isa", cpu_isa,
                 "cap the CPU instruction sets used, LibTorch's included: native | avx512 (no AVX512-BF16/AMX) | avx2 | "
                 "baseline, so that one machine runs the paths of another (default: RLHF_CPU_ISA, else native; "
                 "src/common/cpu_features.h)")
      ->capture_default_str();
  app.parse_complete_callback([&] {
    // First: oneDNN, ATen and MKL read their caps once, at their first product.
    rlhf::cap_cpu_isa(cpu_isa, app.count("--cpu_isa") ? "--cpu_isa" : "RLHF_CPU_ISA");
    at::set_num_threads(threads);
    rlhf::use_onednn_for_fp32_linear(cpu_fp32_matmul == "onednn");
    at::globalContext().setSDPUseCuDNN(cudnn_attention);
    if (cpu_allocator == "caching") rlhf::install_caching_cpu_allocator();
  });
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
