// rlhf pipeline: the whole paper on the embedded world (make demo runs it with the demo preset).
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "command.h"
#include "common/files.h"
#include "pipeline/pipeline.h"
#include "train/loop.h"

namespace rlhf::cli {
namespace {

RegisterCommand reg{{"pipeline", "World -> pretrain -> curate -> SFT -> RM -> PPO / PPO-ptx -> evaluation, in one run",
                     [](CLI::App& app) {
                       auto config = std::make_shared<pipeline::PipelineConfig>();
                       auto options = std::make_shared<Options>();
                       pipeline::bind_pipeline_options(*options, *config);
                       options->attach(app);
                       app.callback([config, options, &app] {
                         options->check_extras(app);
                         pipeline::apply_preset(*config);
                         options->reapply_given();  // what the user set wins over the preset
                         try {
                           std::exit(pipeline::run_pipeline(*config));
                         } catch (const Interrupted& e) {
                           std::cerr << e.what() << " (run again to continue)\n";
                           std::exit(130);
                         }
                       });
                     }}};

}  // namespace
}  // namespace rlhf::cli
