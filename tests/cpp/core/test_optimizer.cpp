// The fused AdamW (one ATen kernel per step) against LibTorch's op-by-op torch::optim::AdamW: same options, same
// gradients, several steps with weight decay, a learning-rate change in between and a parameter without a gradient
// in one step; parameters and moments must agree to rounding.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../error_of.h"
#include "bf16_autocast.h"
#include "train/distributed.h"
#include "train/fused_adamw.h"
#include "train/loop.h"

namespace rlhf {
namespace {

std::vector<torch::Tensor> make_parameters() {
  torch::manual_seed(3);
  std::vector<torch::Tensor> ps;
  for (auto shape : std::vector<std::vector<int64_t>>{{64, 32}, {32}, {7, 5, 3}, {1}})
    ps.push_back(torch::randn(shape).set_requires_grad(true));
  return ps;
}

TEST(FusedAdamW, MatchesLibTorchAdamW) {
  auto reference_params = make_parameters(), fused_params = make_parameters();
  auto options = torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).eps(1e-6).weight_decay(0.1);
  torch::optim::AdamW reference(reference_params, options);
  FusedAdamW fused(fused_params, options);
  torch::manual_seed(4);
  for (int step = 0; step < 6; ++step) {
    if (step == 3) set_learning_rate(reference, 3e-3), set_learning_rate(fused, 3e-3);
    for (size_t k = 0; k < reference_params.size(); ++k) {
      if (step == 2 && k == 1) {  // no gradient this step: both must skip this tensor (and its step count)
        reference_params[k].mutable_grad() = torch::Tensor();
        fused_params[k].mutable_grad() = torch::Tensor();
        continue;
      }
      auto g = torch::randn(reference_params[k].sizes()) * (1.0 + step);
      reference_params[k].mutable_grad() = g.clone();
      fused_params[k].mutable_grad() = g.clone();
    }
    reference.step();
    fused.step();
  }
  for (size_t k = 0; k < reference_params.size(); ++k) {
    EXPECT_TRUE(torch::allclose(fused_params[k], reference_params[k], 1e-5, 1e-6)) << "parameter " << k;
    auto& a = static_cast<torch::optim::AdamWParamState&>(*fused.state().at(fused_params[k].unsafeGetTensorImpl()));
    auto& b =
        static_cast<torch::optim::AdamWParamState&>(*reference.state().at(reference_params[k].unsafeGetTensorImpl()));
    EXPECT_EQ(a.step(), b.step());
    EXPECT_TRUE(torch::allclose(a.exp_avg(), b.exp_avg(), 1e-5, 1e-7));
    EXPECT_TRUE(torch::allclose(a.exp_avg_sq(), b.exp_avg_sq(), 1e-5, 1e-9));
  }
  // The parameters moved: the comparison above is not between two untouched copies.
  EXPECT_FALSE(torch::allclose(fused_params[0], make_parameters()[0], 1e-3, 1e-3));
}

TEST(FusedAdamW, ChosenByTheOptimOption) {
  TrainingOptions t;
  auto ps = make_parameters();
  EXPECT_NE(dynamic_cast<FusedAdamW*>(make_adamw(ps, t, 1e-3).get()), nullptr);
  t.optim = "adamw_torch";
  EXPECT_EQ(dynamic_cast<FusedAdamW*>(make_adamw(ps, t, 1e-3).get()), nullptr);
  t.optim = "sgd";
  EXPECT_THROW(validate_training_options(t, "sft"), std::exception);
}

// A dtype training cannot run is an error that names the option before anything loads (float16 used to reach
// AutocastGuard's own check mid-run).
TEST(TrainingOptions, ADtypeTrainingCannotRunIsAClearError) {
  TrainingOptions t;
  for (const std::string dtype : {"float32", "bfloat16"}) {
    t.dtype = dtype;
    EXPECT_EQ(error_of([&] { validate_training_options(t, "sft"); }), "");
  }
  t.dtype = "float16";
  EXPECT_EQ(error_of([&] { validate_training_options(t, "sft"); }),
            "sft: --dtype: expected float32 or bfloat16 (training has no float16 path), found 'float16'");
}

}  // namespace
}  // namespace rlhf

namespace rlhf {
namespace {

// The stages hold one bf16 autocast region over the whole run, and autocast caches the bf16 copy of each fp32 weight
// that at::linear (our model's product) receives while a region is open. Unless the optimizer step drops those copies,
// every later forward runs on the first forward's weights: `--dtype bfloat16` trained on stale weights until this
// test. (torch::nn::Linear multiplies by weight.t(), a view autocast does not cache, so it would not show the bug.)
// 40 AdamW steps through DataParallel::optimizer_step inside one bf16 region must fit a linear regression like fp32.
TEST(Bf16Autocast, UpdatesReachTheNextForwardInsideOneRegion) {
  auto fit = [](const std::string& dtype) {
    torch::manual_seed(5);
    auto weight = (torch::randn({1, 16}) * 0.1).requires_grad_(true), bias = torch::zeros({1}).requires_grad_(true);
    auto x = torch::randn({128, 16}), y = torch::matmul(x, torch::randn({16, 1}));
    TrainingOptions t;
    auto optimizer = make_adamw({weight, bias}, t, 5e-2);
    DataParallel dp(t, "test");
    dp.attach({weight, bias}, *optimizer);
    Bf16AutocastOnAnyCpu autocast(dtype == "bfloat16");
    std::vector<double> losses;
    for (int step = 0; step < 40; ++step) {
      auto out = torch::linear(x, weight, bias);
      EXPECT_EQ(out.scalar_type(), dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat32);
      auto loss = (out.to(torch::kFloat32) - y).pow(2).mean();
      losses.push_back(loss.item<double>());
      optimizer->zero_grad();
      loss.backward();
      dp.optimizer_step();
    }
    return losses;
  };
  const auto fp32 = fit("float32"), bf16 = fit("bfloat16");
  EXPECT_LT(fp32.back(), 0.1 * fp32.front());
  EXPECT_LT(bf16.back(), 0.1 * bf16.front()) << "first loss " << bf16.front() << ", last " << bf16.back();
  EXPECT_NEAR(bf16.back(), fp32.back(), 0.05 * fp32.front());
}

}  // namespace
}  // namespace rlhf
