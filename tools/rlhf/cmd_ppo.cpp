// rlhf ppo: PPO against a reward model with a per-token KL penalty to the SFT policy; PPO-ptx with --ptx_coef.
#include <cstdio>

#include "stage_command.h"
#include "train/ppo.h"

namespace rlhf::cli {
namespace {

RegisterCommand reg{stage_command<PpoOptions>(
    "ppo", "PPO with KL penalty to the SFT model, value model from the RM; PPO-ptx with --ptx_coef",
    bind_ppo_options, [](const PpoOptions& o) {
      auto r = run_ppo(o);
      const size_t n = r.mean_scores.size();
      std::printf("ppo: %lld iterations, score %.4f -> %.4f, KL %.4f -> %.4f -> %s\n",
                  static_cast<long long>(r.iterations), n ? r.mean_scores.front() : 0.0, n ? r.mean_scores.back() : 0.0,
                  n ? r.mean_kl.front() : 0.0, n ? r.mean_kl.back() : 0.0, o.train.output_dir.c_str());
    })};

}  // namespace
}  // namespace rlhf::cli
