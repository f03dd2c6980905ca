// The subcommand registry: each tools/rlhf/cmd_*.cpp registers itself, main.cpp builds the CLI11 app from the list.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace CLI { class App; }

namespace rlhf::cli {

struct Command {
  std::string name;
  std::string help;
  std::function<void(CLI::App&)> setup;  // adds options and a callback to the subcommand
};

std::vector<Command>& commands();

struct RegisterCommand {
  explicit RegisterCommand(Command command) { commands().push_back(std::move(command)); }
};

}  // namespace rlhf::cli
