// rlhf world: generate the embedded default's world (pretraining corpus, raw prompt log, benchmarks, world.json) into a
// folder. Deterministic: the same preset, seed and knobs give identical files.
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <memory>

#include "command.h"
#include "common/error.h"
#include "common/options.h"
#include "world/world.h"

namespace rlhf::cli {
namespace {

struct WorldArgs {
  std::string out;
  world::WorldConfig config;
};

void run(const WorldArgs& a) {
  auto start = std::chrono::steady_clock::now();
  world::World w = world::World::generate(a.config);
  nlohmann::json summary = w.write(a.out);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& c = w.config();
  std::cout << "world (preset " << c.preset << ", seed " << c.seed << ", difficulty " << c.difficulty << ") -> " << a.out
            << " in " << seconds << " s\n";
  for (const auto& f : summary["files"])
    std::cout << "  " << f["name"].get<std::string>() << ": " << f["lines"] << " lines, " << f["bytes"] << " bytes\n";
  std::cout << "  world.json, README.txt\n";
}

RegisterCommand reg{{"world", "Generate the instruction world: corpus, prompt log, benchmarks, judges (world.json)",
                     [](CLI::App& app) {
  auto a = std::make_shared<WorldArgs>();
  auto options = std::make_shared<Options>();
  options->add("out", &a->out, "folder to write the world into (created if missing)");
  world::bind_options(*options, a->config);
  options->attach(app);
  app.callback([a, options, &app] {
    options->check_extras(app);
    check(!a->out.empty(), "world: --out DIR is required");
    run(*a);
  });
}}};

}  // namespace
}  // namespace rlhf::cli
