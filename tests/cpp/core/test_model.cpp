// Model tests that need no reference files: KV cache vs full recomputation, sampling reproducibility, the chunked
// log-prob function against a plain log_softmax (values and gradients).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/device.h"
#include "model/generate.h"
#include "model/logprobs.h"
#include "model/transformer.h"

namespace rlhf {
namespace {

Transformer tiny_model(const std::string& family, int64_t kv_heads = 2) {
  torch::manual_seed(0);
  Transformer model(tiny_config(family, 97, 32, 2, 4, kv_heads, 128));
  init_weights(*model, 0.2);  // large weights: peaked distributions, so greedy is not decided by rounding
  model->eval();
  return model;
}

// Two left-padded prompts of lengths 5 and 3.
std::pair<torch::Tensor, torch::Tensor> left_padded_batch() {
  auto ids = torch::tensor({{5, 6, 7, 8, 9}, {0, 0, 11, 12, 13}}, torch::kLong);
  auto mask = torch::tensor({{1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}}, torch::kLong);
  return {ids, mask};
}

class ModelFamilies : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelFamilies, KvCacheEqualsFullRecomputation) {
  auto model = tiny_model(GetParam());
  auto [ids, mask] = left_padded_batch();
  GenerationOptions o;
  o.max_new_tokens = 12;
  o.do_sample = true;
  o.temperature = 0.9;
  auto cached = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(7));
  o.use_cache = false;
  auto full = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(7));
  EXPECT_TRUE(torch::equal(cached.sequences, full.sequences));
  EXPECT_TRUE(torch::allclose(cached.response_logprobs, full.response_logprobs, 1e-5, 1e-5));
}

TEST_P(ModelFamilies, LeftPaddingDoesNotChangeARow) {
  auto model = tiny_model(GetParam());
  auto [ids, mask] = left_padded_batch();
  GenerationOptions o;
  o.max_new_tokens = 8;
  o.do_sample = false;
  auto batch = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(1));
  auto alone = generate(*model, ids.slice(0, 1, 2).slice(1, 2, 5), mask.slice(0, 1, 2).slice(1, 2, 5), o,
                        at::make_generator<at::CPUGeneratorImpl>(1));
  EXPECT_TRUE(torch::equal(batch.response_ids[1], alone.response_ids[0]));
  EXPECT_TRUE(torch::allclose(batch.response_logprobs[1], alone.response_logprobs[0], 1e-4, 1e-4));
}

TEST_P(ModelFamilies, SeededSamplingIsReproducibleAndTopK1IsGreedy) {
  auto model = tiny_model(GetParam());
  auto [ids, mask] = left_padded_batch();
  GenerationOptions o;
  o.max_new_tokens = 10;
  auto a = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(3));
  auto b = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(3));
  EXPECT_TRUE(torch::equal(a.sequences, b.sequences));
  o.top_k = 1;
  auto top1 = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(4));
  o.top_k = 0;
  o.do_sample = false;
  auto greedy = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(5));
  EXPECT_TRUE(torch::equal(top1.sequences, greedy.sequences));
}

TEST_P(ModelFamilies, EosStopsARowAndMasksTheRest) {
  auto model = tiny_model(GetParam());
  auto [ids, mask] = left_padded_batch();
  GenerationOptions o;
  o.max_new_tokens = 6;
  o.do_sample = true;  // sampled, so the row is not one repeated token; the same seed replays it
  auto free_run = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(1));
  // EOS := the first token of row 0 that did not appear before it in the row, so the row stops exactly there.
  auto row0 = free_run.response_ids[0];
  int64_t stop = 0;
  for (int64_t k = 1; k < row0.size(0); ++k)
    if (!(row0.slice(0, 0, k) == row0[k]).any().item<bool>()) { stop = k; break; }
  ASSERT_GT(stop, 0) << "free run repeated a single token; pick another seed";
  o.eos_token_id = row0[stop].item<int64_t>();
  o.pad_token_id = 96;
  auto stopped = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(1));
  auto row = stopped.response_mask[0];
  EXPECT_EQ(row.slice(0, 0, stop + 1).sum().item<int64_t>(), stop + 1);  // up to and including EOS
  EXPECT_EQ(row.slice(0, stop + 1).sum().item<int64_t>(), 0);
  EXPECT_TRUE((stopped.response_ids[0].slice(0, stop + 1) == 96).all().item<bool>());
  EXPECT_TRUE((stopped.response_logprobs[0].slice(0, stop + 1) == 0).all().item<bool>());
}

INSTANTIATE_TEST_SUITE_P(Families, ModelFamilies, ::testing::Values("gpt2", "llama", "qwen2"));

// generate() turns cuDNN attention off for its own call (a plan per new key length on a GPU) and must hand the user's
// setting back either way, also when generation fails.
TEST(Generate, LeavesTheCudnnAttentionSettingAsItFoundIt) {
  auto model = tiny_model("llama");
  auto [ids, mask] = left_padded_batch();
  GenerationOptions o;
  o.max_new_tokens = 2;
  o.do_sample = false;
  const bool before = at::globalContext().userEnabledCuDNNSDP();
  for (bool setting : {true, false}) {
    at::globalContext().setSDPUseCuDNN(setting);
    generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(1));
    EXPECT_EQ(at::globalContext().userEnabledCuDNNSDP(), setting);
    EXPECT_ANY_THROW(generate(*model, ids.slice(1, 0, 0), mask.slice(1, 0, 0), o,
                              at::make_generator<at::CPUGeneratorImpl>(1)));  // no prompt tokens: an error
    EXPECT_EQ(at::globalContext().userEnabledCuDNNSDP(), setting);
  }
  at::globalContext().setSDPUseCuDNN(before);
}

// The sampling generator PPO keeps: on the CPU the same draws as a CPU generator seeded alike (checkpoints and
// results of CPU runs unchanged); a CUDA one is made on a GPU only (not testable here).
TEST(Device, SeededGeneratorOnTheCpuDrawsAsACpuGenerator) {
  auto ours = seeded_generator(torch::kCPU, 1234);
  auto plain = at::make_generator<at::CPUGeneratorImpl>(1234);
  EXPECT_TRUE(torch::randperm(50, ours, torch::kLong).equal(torch::randperm(50, plain, torch::kLong)));
  EXPECT_TRUE(torch::rand({8}, ours).equal(torch::rand({8}, plain)));
}

TEST(Logprobs, ChunkedEqualsLogSoftmaxWithGradients) {
  torch::manual_seed(0);
  auto hidden = torch::randn({37, 16}, torch::requires_grad());
  auto weight = torch::randn({50, 16}, torch::requires_grad());
  auto targets = torch::randint(0, 50, {37}, torch::kLong);
  auto upstream = torch::randn({37});
  auto ours = linear_logprobs(hidden, weight, targets, 0.7, true);
  (ours.logprobs * upstream).sum().backward();
  auto grad_hidden = hidden.grad().clone(), grad_weight = weight.grad().clone();
  hidden.mutable_grad().zero_(), weight.mutable_grad().zero_();

  auto log_softmax = (torch::mm(hidden, weight.t()) / 0.7).log_softmax(-1);
  auto reference = log_softmax.gather(-1, targets.unsqueeze(-1)).squeeze(-1);
  (reference * upstream).sum().backward();
  EXPECT_TRUE(torch::allclose(ours.logprobs, reference, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(ours.entropy, -(log_softmax.exp() * log_softmax).sum(-1), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(grad_hidden, hidden.grad(), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(grad_weight, weight.grad(), 1e-5, 1e-5));
}

TEST(Logprobs, TokenLogprobsMatchTheLogits) {
  auto model = tiny_model("llama");
  auto [ids, mask] = left_padded_batch();
  auto ours = token_logprobs(*model, ids, mask).logprobs;  // [2, 4]
  auto hidden = model->hidden_states(ids, positions_from_mask(mask), mask);
  auto reference = model->logits(hidden).log_softmax(-1).slice(1, 0, 4).gather(-1, ids.slice(1, 1, 5).unsqueeze(-1)).squeeze(-1);
  EXPECT_TRUE(torch::allclose(ours, reference, 1e-5, 1e-5));
}

}  // namespace
}  // namespace rlhf
