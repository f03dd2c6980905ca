// What the PPO, stage and prompt-encoding tests share: a tiny random policy, random prompts, a reward that counts one
// token, the tensors of a safetensors file they wrote (rollouts, adapters), and one intra-op thread.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "io/formats/safetensors.h"
#include "model/transformer.h"

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
