// Model tests that need no reference files: KV cache vs full recomputation, sampling reproducibility, the chunked
// log-prob function against a plain log_softmax (values and gradients).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/Version.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <cstdio>

#include "bf16_autocast.h"
#include "common/cpu_features.h"
#include "model/cpu_linear.h"
#include "model/decode_attention.h"
#include "model/device.h"
#include "model/generate.h"
#include "model/logprobs.h"
#include "model/short_attention.h"
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

// The CPU decode kernels against softmax(q kᵀ / √D) v written out in float64, each path this machine can run (AVX-512,
// AVX2, the portable loops compiled for the widest vectors allowed; ctest's avx2.* and baseline.* copies cap them): fp32 and bf16 caches read as slices of a longer cache, grouped-query heads (3 query heads
// per kv head), head sizes with and without a vector kernel (40: portable only), left padding, and a row that may see
// nothing (zeros by contract).
TEST(DecodeAttention, MatchesTheFormulaOnCacheSlices) {
  torch::manual_seed(5);
  const int64_t B = 3, KV = 2, G = 3, H = KV * G, S = 37, capacity = 50;
  int paths_run = 0;
  const auto& cpu = cpu_features();
  // The vector kernels follow cpu_features() (a cap included: RLHF_CPU_ISA=avx2 runs the AVX2 and portable ones here).
  EXPECT_EQ(decode_kernel_available(DecodeKernel::avx512, 64), cpu.avx512f);
  EXPECT_EQ(decode_kernel_available(DecodeKernel::avx2, 64), cpu.avx2 && cpu.fma);
  if (!cpu.avx512f) std::printf("AVX-512 kernels not tested: %s has no AVX-512F\n", cpu.describe().c_str());
  if (!(cpu.avx2 && cpu.fma)) std::printf("AVX2 kernels not tested: %s has no AVX2 + FMA\n", cpu.describe().c_str());
  for (const auto path : {DecodeKernel::best, DecodeKernel::avx512, DecodeKernel::avx2, DecodeKernel::portable}) {
    for (const int64_t D : {40, 64, 96}) {
      if (!decode_kernel_available(path, D)) continue;  // no such instructions (printed above), or D = 40
      ++paths_run;
      for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
        auto q = torch::randn({B, H, 1, D});
        auto k_cache = torch::randn({B, KV, capacity, D}).to(dtype);
        auto v_cache = torch::randn({B, KV, capacity, D}).to(dtype);
        auto k = k_cache.slice(2, 0, S), v = v_cache.slice(2, 0, S);
        auto allowed = torch::ones({B, 1, 1, S}, torch::kBool);
        allowed[1].slice(-1, 0, 9).fill_(false);  // row 1: 9 pad positions on the left
        allowed[2].fill_(false);                  // row 2: nothing allowed
        auto out = decode_attention(q.to(dtype), k, v, allowed, path);
        ASSERT_EQ(out.sizes(), q.sizes());
        ASSERT_EQ(out.scalar_type(), dtype);

        // Reference in float64 from the same (rounded) inputs: head h reads kv head h / G.
        auto q64 = q.to(dtype).to(torch::kFloat64);
        auto k64 = k.to(torch::kFloat64).repeat_interleave(G, 1), v64 = v.to(torch::kFloat64).repeat_interleave(G, 1);
        auto scores = torch::matmul(q64, k64.transpose(-1, -2)) / std::sqrt(static_cast<double>(D));
        auto masked = scores.masked_fill(allowed.logical_not(), -INFINITY);
        auto reference = torch::matmul(masked.softmax(-1), v64).nan_to_num(0.0);
        const double tolerance = dtype == torch::kFloat32 ? 1e-5 : 1e-2;  // bf16: the output's own rounding
        const auto where = "path " + std::to_string(static_cast<int>(path)) + " D " + std::to_string(D) + " " +
                           c10::toString(dtype);
        EXPECT_TRUE(torch::allclose(out.to(torch::kFloat64), reference, tolerance, tolerance))
            << where << ": max error " << (out.to(torch::kFloat64) - reference).abs().max().item<double>();
        EXPECT_TRUE(torch::equal(out[2], torch::zeros_like(out[2]))) << where;
        // No mask: every position.
        auto open = decode_attention(q.to(dtype), k, v, torch::Tensor(), path);
        auto open_reference = torch::matmul(scores.softmax(-1), v64);
        EXPECT_TRUE(torch::allclose(open.to(torch::kFloat64), open_reference, tolerance, tolerance)) << where;
      }
    }
  }
  EXPECT_GE(paths_run, 4);  // best and portable for each head size at least
  // Keys and values of different dtypes (a one-token prefill under bf16 autocast: keys fp32 after RoPE, values bf16).
  auto q = torch::randn({1, 2, 1, 64}), k = torch::randn({1, 2, 1, 64}), v = torch::randn({1, 2, 1, 64});
  auto out = decode_attention(q, k, v.to(torch::kBFloat16), torch::Tensor());
  EXPECT_TRUE(torch::allclose(out, v.to(torch::kBFloat16).to(torch::kFloat32), 1e-6, 1e-6));  // one position: its value
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
// Training forwards on the CPU over at most kShortAttentionMaxKeys keys: the materialised softmax(q kᵀ / √D) v
// against SDPA's math kernel in float64, outputs and the gradients of q, k and v, with a padding-and-causal mask, the
// causal flag alone, and no mask; fp32 inputs, and bf16 inputs (the products in bf16, against the float64 result for
// the same bf16 values).
TEST(ShortAttention, MatchesSdpaWithGradients) {
  torch::manual_seed(3);
  const int64_t B = 2, H = 3, T = 9, D = 16;
  auto causal = torch::ones({T, T}, torch::kBool).tril();
  auto padding = torch::ones({B, T}, torch::kBool);
  padding.index_put_({1, torch::indexing::Slice(0, 4)}, false);  // row 1: four left pads
  auto allowed = (causal.unsqueeze(0) & padding.unsqueeze(1)) | torch::eye(T, torch::kBool).unsqueeze(0);
  allowed = allowed.unsqueeze(1);  // [B, 1, T, T], every query sees itself
  struct Case {
    const char* name;
    torch::Tensor mask;
    bool causal;
  };
  const std::vector<Case> cases = {{"mask", allowed, false}, {"causal", {}, true}, {"none", {}, false}};
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const double tolerance = dtype == torch::kFloat32 ? 1e-5 : 3e-2;
    for (const auto& c : cases) {
      SCOPED_TRACE(std::string(c.name) + (dtype == torch::kFloat32 ? " fp32" : " bf16"));
      auto q = torch::randn({B, H, T, D}).to(dtype), k = torch::randn({B, H, T, D}).to(dtype);
      auto v = torch::randn({B, H, T, D}).to(dtype), g = torch::randn({B, H, T, D}).to(dtype);
      std::vector<torch::Tensor> ours_in, ref_in;
      for (const auto& t : {q, k, v}) {
        ours_in.push_back(t.clone().requires_grad_(true));
        ref_in.push_back(t.to(torch::kFloat64).requires_grad_(true));
      }
      auto ours = short_attention(ours_in[0], ours_in[1], ours_in[2], c.mask, c.causal);
      ours.backward(g);
      auto reference = at::scaled_dot_product_attention(
          ref_in[0], ref_in[1], ref_in[2], c.mask.defined() ? c10::optional<at::Tensor>(c.mask) : c10::nullopt, 0.0,
          c.causal);
      reference.backward(g.to(torch::kFloat64));
      EXPECT_EQ(ours.scalar_type(), dtype);
      EXPECT_LT((ours.to(torch::kFloat64) - reference).abs().max().item<double>(), tolerance);
      for (int i = 0; i < 3; ++i) {
        auto error = (ours_in[i].grad().to(torch::kFloat64) - ref_in[i].grad()).abs().max().item<double>();
        EXPECT_LT(error, tolerance * (1 + ref_in[i].grad().abs().max().item<double>())) << "gradient " << i;
      }
    }
  }
}

// fp32 linear layers on the CPU through oneDNN: values and the gradients of input, weight and bias against float64,
// for a 3-D input, a weight read through a transposed view (as the log-prob backward passes it), no bias, and a frozen
// weight (no gradient asked). The switch off gives ATen's own linear.
TEST(CpuLinear, OnednnMatchesFloat64WithGradients) {
  if (!onednn_linear_available()) GTEST_SKIP() << "this LibTorch has no oneDNN";
  ASSERT_TRUE(onednn_for_fp32_linear());
  torch::manual_seed(5);
  auto x = torch::randn({3, 7, 48}), g = torch::randn({3, 7, 40});
  auto weight_storage = torch::randn({48, 40});  // read as weight_storage.t(): [40, 48], not contiguous
  auto bias = torch::randn({40});
  for (bool with_bias : {true, false}) {
    for (bool frozen_weight : {false, true}) {
      SCOPED_TRACE(std::string(with_bias ? "bias" : "no bias") + (frozen_weight ? ", frozen weight" : ""));
      auto xs = x.clone().requires_grad_(true), ws = weight_storage.clone().requires_grad_(!frozen_weight);
      auto bs = bias.clone().requires_grad_(true);
      auto y = linear_layer(xs, ws.t(), with_bias ? bs : torch::Tensor());
      y.backward(g);
      auto x64 = x.to(torch::kFloat64).requires_grad_(true), w64 = weight_storage.to(torch::kFloat64).requires_grad_(true);
      auto b64 = bias.to(torch::kFloat64).requires_grad_(true);
      auto reference = torch::linear(x64, w64.t(), with_bias ? b64 : torch::Tensor());
      reference.backward(g.to(torch::kFloat64));
      EXPECT_EQ(y.sizes(), reference.sizes());
      EXPECT_LT((y.to(torch::kFloat64) - reference).abs().max().item<double>(), 1e-4);
      EXPECT_LT((xs.grad().to(torch::kFloat64) - x64.grad()).abs().max().item<double>(), 1e-4);
      if (frozen_weight) EXPECT_FALSE(ws.grad().defined());
      else EXPECT_LT((ws.grad().to(torch::kFloat64) - w64.grad()).abs().max().item<double>(), 1e-4);
      if (with_bias) EXPECT_LT((bs.grad().to(torch::kFloat64) - b64.grad()).abs().max().item<double>(), 1e-4);
    }
  }
  // Without autograd (generation) and with the switch off: the same values.
  torch::NoGradGuard no_grad;
  auto fast = linear_layer(x, weight_storage.t(), bias);
  use_onednn_for_fp32_linear(false);
  auto aten = linear_layer(x, weight_storage.t(), bias);
  use_onednn_for_fp32_linear(true);
  EXPECT_TRUE(torch::allclose(fast, aten, 1e-5, 1e-4));
}

// The bf16 path follows the CPU (a cap included), and LibTorch's own libraries see the CPU as cpu_features() does: under
// RLHF_CPU_ISA=avx2 on an AVX-512 machine (ctest's avx2.* copy) ATen dispatches its AVX2 kernels, and oneDNN declines
// bf16 and refuses to pack a bf16 weight, as on an AVX2-only CPU (issue 23's error).
TEST(CpuLinear, Bf16PathFollowsTheCpuAsLibTorchSeesIt) {
  const auto& cpu = cpu_features();
  std::printf("%s; LibTorch's CPU capability %s\n", cpu.describe().c_str(), at::get_cpu_capability().c_str());
  const std::string capability = at::get_cpu_capability();
  if (cpu.avx512()) EXPECT_EQ(capability, "AVX512");
  else if (cpu.avx2 && cpu.fma) EXPECT_EQ(capability, "AVX2");
  else EXPECT_TRUE(capability != "AVX2" && capability != "AVX512") << capability;
  if (!onednn_linear_available()) GTEST_SKIP() << "this LibTorch has no oneDNN";
  EXPECT_EQ(cpu_bf16_products(), cpu.onednn_bf16());
  auto supported = c10::Dispatcher::singleton().findOp({"mkldnn::_is_mkldnn_bf16_supported", ""});
  ASSERT_TRUE(supported.has_value());
  EXPECT_EQ(supported->typed<bool()>().call(), cpu.onednn_bf16());
  auto reorder = c10::Dispatcher::singleton().findOp({"mkldnn::_reorder_linear_weight", ""});
  ASSERT_TRUE(reorder.has_value());
  bool packs = true;
  try {
    reorder->typed<at::Tensor(const at::Tensor&, std::optional<int64_t>)>().call(
        torch::randn({8, 16}).to(torch::kBFloat16), 4);
  } catch (const c10::Error& e) {
    packs = false;
    std::printf("oneDNN: %s\n", e.what_without_backtrace());
  }
  EXPECT_EQ(packs, cpu.onednn_bf16());
}

// Weights packed for a stretch of inference: the products equal the unpacked ones (fp32 to rounding, bf16 exactly
// where oneDNN runs bf16), the packed copy is what is read (a change to the weight in scope is not seen, by contract),
// and the scope ends cleanly (nested scopes restore the outer one). bf16 weights are packed on every CPU: as bf16 where
// oneDNN has bf16 kernels, else widened to fp32, whose products take fp32 inputs there (the model's activations) and
// give bf16 inputs bf16 results. Under bf16 autocast on such a CPU they are left unpacked (ATen's own bf16 products).
TEST(CpuLinear, PackedWeightsAreReadInScope) {
  if (!onednn_linear_available()) GTEST_SKIP() << "this LibTorch has no oneDNN";
  torch::manual_seed(6);
  torch::NoGradGuard no_grad;
  const bool bf16_products = cpu_bf16_products();
  std::printf("bf16 products here: %s (%s)\n", bf16_products ? "oneDNN's" : "fp32, weights widened",
              cpu_features().describe().c_str());
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (auto input_dtype : {torch::kFloat32, torch::kBFloat16}) {
      if (dtype == torch::kFloat32 && input_dtype == torch::kBFloat16) continue;
      if (dtype == torch::kBFloat16 && input_dtype == torch::kFloat32 && bf16_products) continue;  // autocast's case
      SCOPED_TRACE(std::string(dtype == torch::kFloat32 ? "fp32" : "bf16") + " weights, " +
                   (input_dtype == torch::kFloat32 ? "fp32" : "bf16") + " input");
      auto w = torch::randn({40, 48}).to(dtype), b = torch::randn({40}).to(dtype);
      auto x = torch::randn({3, 5, 48}).to(input_dtype);
      auto plain = linear_layer(x, w, b);
      ASSERT_EQ(plain.scalar_type(), input_dtype);
      // Exact where both products are oneDNN's; ATen's bf16 loops against a widened product: one bf16 rounding apart.
      const double tolerance = input_dtype == torch::kBFloat16 && !bf16_products ? 1e-2 : 1e-4;
      auto same = [&](const torch::Tensor& y) {
        return y.scalar_type() == input_dtype &&
               torch::allclose(y.to(torch::kFloat32), plain.to(torch::kFloat32), tolerance, tolerance);
      };
      {
        PackedLinearWeights packed({w}, 15);
        ASSERT_EQ(packed.size(), 1u);
        EXPECT_TRUE(same(linear_layer(x, w, b)));
        {
          PackedLinearWeights nothing({}, 15);
          EXPECT_TRUE(same(linear_layer(x, w, b)));
        }
        w.mul_(2);  // not seen in scope: the packed copy is read
        EXPECT_TRUE(same(linear_layer(x, w, b)));
      }
      EXPECT_FALSE(same(linear_layer(x, w, b)));
    }
  }
  Bf16AutocastOnAnyCpu autocast;
  PackedLinearWeights under_autocast({torch::randn({40, 48}).to(torch::kBFloat16)}, 15);
  EXPECT_EQ(under_autocast.size(), bf16_products ? 1u : 0u);
}

TEST_P(ModelFamilies, PackedWeightsGenerateTheSameTokens) {
  auto model = tiny_model(GetParam());
  auto [ids, mask] = left_padded_batch();
  GenerationOptions o;
  o.max_new_tokens = 12;
  o.temperature = 0.9;
  auto packed = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(7));
  o.pack_weights = false;
  auto plain = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(7));
  EXPECT_TRUE(torch::equal(packed.sequences, plain.sequences));
  EXPECT_TRUE(torch::allclose(packed.response_logprobs, plain.response_logprobs, 1e-5, 1e-5));
}

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

// Pearson's chi-square of `counts` against `n` draws of the distribution `p` (cells with p = 0 must be empty).
double chi_square(const torch::Tensor& counts, const torch::Tensor& p, int64_t n) {
  auto expected = p.to(torch::kFloat64) * static_cast<double>(n), seen = counts.to(torch::kFloat64);
  auto positive = expected > 0;
  EXPECT_EQ(seen.masked_select(positive.logical_not()).sum().item<double>(), 0) << "a token of probability 0 was drawn";
  return ((seen - expected).pow(2) / expected).masked_select(positive).sum().item<double>();
}

// The inverse-CDF sampler against the distributions themselves: unnormalised weights with zeros, and 64 tokens of very
// unequal probability (softmax of 2.5 x N(0, 1) logits: 1e-4 to 0.2). Chi-square critical values at p = 1e-6: 5 degrees
// of freedom 35.9, 63 degrees ~ 126; a sampler off by one token, or summing in a way that moves boundaries, is far
// above them at these counts.
TEST(Sampling, DrawsEachTokenWithItsProbability) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(11);
  auto weights = torch::tensor({2.0f, 0.0f, 1.0f, 3.0f, 0.0f, 4.0f, 0.5f});  // total 10.5
  const int64_t n = 200000;
  auto tokens = sample_categorical(weights.expand({n, 7}).contiguous(), generator);
  EXPECT_LT(chi_square(torch::bincount(tokens, {}, 7), weights / weights.sum(), n), 35.9);

  torch::manual_seed(3);
  auto p = (2.5 * torch::randn({64})).softmax(0);
  auto counts = torch::zeros({64}, torch::kLong);
  for (int k = 0; k < 20; ++k) counts += torch::bincount(sample_categorical(p.expand({20000, 64}).contiguous(), generator), {}, 64);
  EXPECT_LT(chi_square(counts, p, 400000), 126.0);
  // Rows are independent draws of their own distributions: a one-hot row always gives its token.
  auto one_hot = torch::zeros({3, 5});
  one_hot[0][4] = 1, one_hot[1][0] = 1, one_hot[2][2] = 7;
  EXPECT_TRUE(sample_categorical(one_hot, generator).equal(torch::tensor({4, 0, 2}, torch::kLong)));
  // NaN or inf, or nothing to draw: undefined (generate turns it into a message).
  EXPECT_FALSE(sample_categorical(torch::tensor({{0.5f, NAN}}), generator).defined());
  EXPECT_FALSE(sample_categorical(torch::zeros({1, 4}), generator).defined());
}

// generate() samples the model's own next-token distribution at the temperature, after top-k: 20,000 copies of one
// prompt, one new token each, against softmax(top-5 of logits / 0.7) from a forward pass; the returned log-probs
// are those of the temperature-scaled distribution before filtering (PPO.md: logits / T everywhere).
TEST(Generate, SamplesTheModelsDistributionAfterTopK) {
  auto model = tiny_model("llama");
  const int64_t n = 20000;
  auto prompt = torch::tensor({{5, 6, 7, 8, 9}}, torch::kLong);
  GenerationOptions o;
  o.max_new_tokens = 1;
  o.temperature = 0.7;
  o.top_k = 5;
  auto out = generate(*model, prompt.expand({n, 5}).contiguous(), torch::ones({n, 5}, torch::kLong), o,
                      at::make_generator<at::CPUGeneratorImpl>(21));
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = model->logits(model->hidden_states(prompt, torch::arange(5).unsqueeze(0), torch::ones({1, 5}, torch::kLong)))[0][4];
  }
  auto p = filter_logits((logits / 0.7).unsqueeze(0), 5, 1.0).softmax(-1)[0];
  auto tokens = out.response_ids.select(1, 0);
  // 4 degrees of freedom: critical value at p = 1e-6 is 33.4.
  EXPECT_LT(chi_square(torch::bincount(tokens, {}, 97), p, n), 33.4);
  auto expected_logprobs = (logits / 0.7).log_softmax(-1).index_select(0, tokens);
  EXPECT_TRUE(torch::allclose(out.response_logprobs.select(1, 0), expected_logprobs, 1e-4, 1e-4));
}

// The sampling generator PPO keeps: on the CPU the same draws as a CPU generator seeded alike (checkpoints and
// results of CPU runs unchanged); a CUDA one is made on a GPU only (not testable here).
TEST(Device, SeededGeneratorOnTheCpuDrawsAsACpuGenerator) {
  auto ours = seeded_generator(torch::kCPU, 1234);
  auto plain = at::make_generator<at::CPUGeneratorImpl>(1234);
  EXPECT_TRUE(torch::randperm(50, ours, torch::kLong).equal(torch::randperm(50, plain, torch::kLong)));
  EXPECT_TRUE(torch::rand({8}, ours).equal(torch::rand({8}, plain)));
}

// At a temperature and at T = 1 (no division), in one chunk (a vocabulary of 50) and in two (2^19 entries: 32 rows per
// chunk of 2^24 logits, so 37 rows take two chunks and the weight's gradient sums both).
TEST(Logprobs, ChunkedEqualsLogSoftmaxWithGradients) {
  for (int64_t vocab : {int64_t{50}, int64_t{1} << 19}) {
    for (double temperature : {0.7, 1.0}) {
      SCOPED_TRACE("vocab " + std::to_string(vocab) + ", temperature " + std::to_string(temperature));
      torch::manual_seed(0);
      auto hidden = torch::randn({37, 16}, torch::requires_grad());
      auto weight = torch::randn({vocab, 16}, torch::requires_grad());
      auto targets = torch::randint(0, vocab, {37}, torch::kLong);
      auto upstream = torch::randn({37});
      auto ours = linear_logprobs(hidden, weight, targets, temperature, true);
      (ours.logprobs * upstream).sum().backward();
      auto grad_hidden = hidden.grad().clone(), grad_weight = weight.grad().clone();
      hidden.mutable_grad().zero_(), weight.mutable_grad().zero_();

      auto log_softmax = (torch::mm(hidden, weight.t()) / temperature).log_softmax(-1);
      auto reference = log_softmax.gather(-1, targets.unsqueeze(-1)).squeeze(-1);
      (reference * upstream).sum().backward();
      EXPECT_TRUE(torch::allclose(ours.logprobs, reference, 1e-5, 1e-5));
      EXPECT_TRUE(torch::allclose(ours.entropy, -(log_softmax.exp() * log_softmax).sum(-1), 1e-4, 1e-4));
      // grad_hidden sums 2^19 products per entry: fp32 rounding of two summation orders, ~1e-3 of values up to ~10.
      const double hidden_tolerance = vocab > 50 ? 2e-3 : 1e-5;
      EXPECT_TRUE(torch::allclose(grad_hidden, hidden.grad(), 1e-5, hidden_tolerance))
          << (grad_hidden - hidden.grad()).abs().max().item<double>();
      EXPECT_TRUE(torch::allclose(grad_weight, weight.grad(), 1e-5, 1e-5));
    }
  }
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
