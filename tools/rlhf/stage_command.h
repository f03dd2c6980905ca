// The shape every training subcommand shares: an options struct bound to named knobs (YAML + --key=value), the options
// written to OUTPUT/training_args.json once the run has started (HF Trainer's habit; train/loop.h's StepLoop writes
// them), a run function, and the exit code 130 when interrupted after writing a checkpoint.
#pragma once
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "command.h"
#include "common/options.h"
#include "train/loop.h"

namespace rlhf::cli {

// `StageOptions` holds its TrainingOptions as `train`.
template <typename StageOptions, typename Bind, typename Run>
Command stage_command(std::string name, std::string help, Bind bind, Run run) {
  return Command{name, help, [bind, run](CLI::App& app) {
                   auto stage = std::make_shared<StageOptions>();
                   auto options = std::make_shared<Options>();
                   bind(*options, *stage);
                   options->attach(app);
                   app.callback([stage, options, run, &app] {
                     options->check_extras(app);
                     stage->train.training_args = options->to_json();
                     try {
                       run(*stage);
                     } catch (const Interrupted& e) {
                       std::cerr << e.what() << "\n";
                       std::exit(130);
                     }
                   });
                 }};
}

}  // namespace rlhf::cli
