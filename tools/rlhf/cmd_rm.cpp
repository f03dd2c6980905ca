// rlhf rm: reward model from rankings (K-wise loss), normalised on demonstrations.
#include <cstdio>

#include "stage_command.h"
#include "train/reward.h"

namespace rlhf::cli {
namespace {

RegisterCommand reg{stage_command<RewardOptions>(
    "rm", "Reward model: SFT model + scalar head, all C(K,2) comparisons of a prompt in one batch element",
    bind_reward_options, [](const RewardOptions& o) {
      auto r = run_reward_training(o);
      std::printf("rm: %lld steps, train loss %.4f, held-out accuracy %.4f over %lld comparisons, offset %.4f -> %s\n",
                  static_cast<long long>(r.steps), r.train_loss, r.eval_accuracy, static_cast<long long>(r.eval_pairs),
                  r.reward_offset, o.train.output_dir.c_str());
    })};

}  // namespace
}  // namespace rlhf::cli
