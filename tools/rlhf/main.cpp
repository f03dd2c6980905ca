// rlhf: one binary, one subcommand per pipeline stage or tool.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
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

int main(int argc, char** argv) {
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
  }
  return 0;
}
