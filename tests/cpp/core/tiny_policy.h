// What the PPO, stage and prompt-encoding tests share: a tiny random policy (and PPO's models and options around it),
// random prompts, a reward that counts one token, the tensors of a safetensors file they wrote (rollouts, adapters),
// and one intra-op thread.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "io/formats/safetensors.h"
#include "model/transformer.h"
#include "train/ppo.h"

namespace rlhf {

// One intra-op thread: these models are tiny, and on a shared, busy machine OpenMP's spinning worker threads made the
// same runs ~100× slower (measured: 0.5 s vs 53 s for 5 PPO iterations). The results do not depend on it.
inline void single_thread() { torch::set_num_threads(1); }

inline Transformer tiny_policy(uint64_t seed, int64_t vocab = 64, double init_std = 0.02,
                               const std::string& family = "gpt2") {
  torch::manual_seed(seed);
  Transformer model(tiny_config(family, vocab, 32, 2, 4, 4, 64));
  init_weights(*model, init_std);
  return model;
}

inline std::vector<std::vector<int64_t>> random_prompts(uint64_t seed, int64_t count, int64_t vocab = 64) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t length = 2 + i % 4;
    auto ids = torch::randint(10, vocab, {length}, generator, torch::kLong);
    prompts.emplace_back(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + length);
  }
  return prompts;
}

// A programmatic reward: how many times kRewardToken appears in the response.
constexpr int64_t kRewardToken = 7;
inline torch::Tensor count_reward(const std::vector<int64_t>& /*prompt_indices*/, const torch::Tensor& response_ids,
                                  const torch::Tensor& response_mask) {
  return ((response_ids == kRewardToken) & response_mask.to(torch::kBool)).sum(1).to(torch::kFloat32);
}

// Policy, a frozen copy as the reference, a value model with a fresh scalar head (and a reward model with another).
inline PpoModels tiny_models(uint64_t seed, double init_std = 0.02, bool with_reward_model = false) {
  PpoModels m;
  m.policy = tiny_policy(seed, 64, init_std);
  m.reference = copy_with_heads(*m.policy, true, false);
  m.value_model = copy_with_heads(*m.policy, false, true);
  if (with_reward_model) m.reward_model = copy_with_heads(*m.policy, false, true);
  return m;
}

inline PpoOptions tiny_options(const std::string& output_dir, int64_t iterations, int64_t batch = 16) {
  PpoOptions o;
  o.train.output_dir = output_dir;
  o.train.seed = 5;
  o.train.learning_rate = 2e-3;
  o.train.lr_scheduler_type = "constant";
  o.train.warmup_steps = 0;
  o.train.max_length = 64;
  o.value_learning_rate = 2e-3;
  o.rollout_batch_size = batch;
  o.num_mini_batches = 2;
  o.num_ppo_epochs = 1;
  o.response_length = 8;
  o.total_episodes = batch * iterations;
  o.kl_coef = 0.05;
  o.ptx_coef = 0;
  o.quiet = true;
  return o;
}

inline std::map<std::string, torch::Tensor> read_tensors(const std::string& path) {
  SafetensorsFile file(path);
  std::map<std::string, torch::Tensor> out;
  for (const auto& info : file.tensors()) {
    auto dtype = info.dtype == DType::I64 ? torch::kLong : torch::kFloat32;
    out[info.name] = torch::from_blob(const_cast<unsigned char*>(file.data(info)), info.shape, dtype).clone();
  }
  return out;
}

}  // namespace rlhf
