// rlhf sft: supervised fine-tuning on demonstrations (or pretraining on {"text"} lines).
#include <cstdio>

#include "stage_command.h"
#include "train/sft.h"

namespace rlhf::cli {
namespace {

RegisterCommand reg{stage_command<SftOptions>(
    "sft", "Supervised fine-tuning: loss on response tokens (or pretraining on {\"text\"})", bind_sft_options,
    [](const SftOptions& o) {
      auto r = run_sft(o);
      std::printf("sft: %lld steps, train loss %.4f%s -> %s\n", static_cast<long long>(r.steps), r.train_loss,
                  r.eval_loss >= 0 ? (", eval loss " + std::to_string(r.eval_loss)).c_str() : "",
                  o.train.output_dir.c_str());
    })};

}  // namespace
}  // namespace rlhf::cli
