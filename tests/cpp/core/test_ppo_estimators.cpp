// The options that change where PPO's advantages come from, each checked against the test's own computation from what
// an iteration trained on (train_ppo's rollout observer):
//   advantage_estimator rloo: n_samples_per_prompt consecutive episodes share a prompt; a response's score less the
//     mean of its siblings' lands on its last token, beside the per-token −β·KL; the returns are the rewards summed
//     from each token on; the value model is never stepped.
//   freezing_actor_steps: the first iterations step the value model only.
// Tiny random models on one thread: a second or two.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "../temp_dir.h"
#include "tiny_policy.h"
#include "common/error.h"
#include "train/ppo.h"

namespace rlhf {
namespace {

using Named = std::map<std::string, torch::Tensor>;

// A spread-out policy (init std 0.3): the samples of one prompt differ.
PpoModels models_for(uint64_t seed) { return tiny_models(seed, 0.3); }

std::vector<torch::Tensor> weights_of(TransformerImpl& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model.parameters()) out.push_back(p.detach().clone());
  return out;
}

bool unchanged(TransformerImpl& model, const std::vector<torch::Tensor>& before) {
  auto now = model.parameters();
  for (size_t i = 0; i < now.size(); ++i)
    if (!torch::equal(now[i], before[i])) return false;
  return true;
}

TEST(PpoEstimators, RlooScoresEachResponseAgainstItsSiblingsAndStepsNoValueModel) {
  single_thread();
  TempDir dir("ppo", "rloo");
  auto o = tiny_options(dir / "run", 2);
  o.advantage_estimator = "rloo";
  o.n_samples_per_prompt = 4;
  auto m = models_for(41);
  const auto value_before = weights_of(*m.value_model), policy_before = weights_of(*m.policy);
  std::vector<Named> seen;
  train_ppo(o, m, random_prompts(141, 10), {}, -1, 0, count_reward, nullptr,
            [&](int64_t, const RolloutTensors& t) { seen.emplace_back(t.begin(), t.end()); });
  ASSERT_EQ(seen.size(), 2u);
  bool scores_differ_within_a_prompt = false;
  for (const auto& it : seen) {
    const auto ids = it.at("ids"), mask = it.at("response_mask").to(torch::kDouble);
    const auto scores = it.at("scores").to(torch::kDouble), rewards = it.at("rewards").to(torch::kDouble);
    const auto kl = (it.at("logprobs").to(torch::kDouble) - it.at("ref_logprobs").to(torch::kDouble)) * mask;
    const int64_t P = ids.size(1) - mask.size(1);
    for (int64_t b = 0; b < ids.size(0); ++b) {
      const int64_t first = b - b % 4;  // the episode's group of 4
      EXPECT_TRUE(torch::equal(ids[b].slice(0, 0, P), ids[first].slice(0, 0, P))) << "episode " << b;
      const double others = (scores.slice(0, first, first + 4).sum().item<double>() - scores[b].item<double>()) / 3;
      if (scores[b].item<double>() != scores[first].item<double>()) scores_differ_within_a_prompt = true;
      // The rewards are −β·KL on every token and (score − the siblings' mean) once.
      const double summed = (rewards[b] * mask[b]).sum().item<double>() + o.kl_coef * kl[b].sum().item<double>();
      EXPECT_NEAR(summed, scores[b].item<double>() - others, 1e-5) << "episode " << b;
      // No values and λ = 1: a token's return is the rewards from it to the end.
      const auto to_go = rewards[b].flip(0).cumsum(0).flip(0) * mask[b];
      EXPECT_NEAR((it.at("returns")[b].to(torch::kDouble) - to_go).abs().max().item<double>(), 0.0, 1e-5);
    }
    EXPECT_NE(ids[0].slice(0, 0, P).sum().item<int64_t>(), ids[4].slice(0, 0, P).sum().item<int64_t>())
        << "the next group is another prompt";
  }
  EXPECT_TRUE(scores_differ_within_a_prompt) << "the check above needs scores that differ";
  EXPECT_TRUE(unchanged(*m.value_model, value_before));
  EXPECT_FALSE(unchanged(*m.policy, policy_before));
}

TEST(PpoEstimators, RlooNeedsSiblingsInTheSameBatch) {
  auto o = tiny_options("unused", 1);
  o.advantage_estimator = "rloo";
  auto m = models_for(42);
  for (int64_t n : {1, 3}) {  // one sample has no sibling; 3 does not divide the batch of 16
    o.n_samples_per_prompt = n;
    EXPECT_THROW(train_ppo(o, m, random_prompts(142, 4), {}, -1, 0, count_reward), Error) << n;
  }
  o.advantage_estimator = "grpo";
  o.n_samples_per_prompt = 4;
  EXPECT_THROW(train_ppo(o, m, random_prompts(142, 4), {}, -1, 0, count_reward), Error);
}

TEST(PpoEstimators, FrozenActorStepsTrainTheValueModelOnly) {
  single_thread();
  TempDir dir("ppo", "freeze");
  auto o = tiny_options(dir / "run", 2);
  o.freezing_actor_steps = 2;
  auto m = models_for(43);
  const auto value_before = weights_of(*m.value_model), policy_before = weights_of(*m.policy);
  train_ppo(o, m, random_prompts(143, 10), {}, -1, 0, count_reward);
  EXPECT_TRUE(unchanged(*m.policy, policy_before));
  EXPECT_FALSE(unchanged(*m.value_model, value_before));

  o.freezing_actor_steps = 1;  // the second iteration steps the policy
  o.train.output_dir = dir / "run2";
  auto m2 = models_for(43);
  train_ppo(o, m2, random_prompts(143, 10), {}, -1, 0, count_reward);
  EXPECT_FALSE(unchanged(*m2.policy, policy_before));
}

}  // namespace
}  // namespace rlhf
