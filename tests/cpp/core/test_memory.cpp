// Memory features: LoRA adapters (start as the base, adapt only their rows of a fused matrix, merge exactly, train
// alone, the base head when disabled), gradient checkpointing (same gradients as without, GPT-2 and Llama shapes, with
// LoRA dropout replayed), PPO with one shared frozen base, and frozen weights held in bf16.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bf16_autocast.h"
#include "common/cpu_features.h"
#include "common/error.h"
#include "infer/batch.h"
#include "model/cpu_linear.h"
#include "model/generate.h"
#include "model/lora.h"
#include "model/transformer.h"
#include "train/loop.h"
#include "train/losses.h"
#include "train/memory.h"
#include "train/ppo.h"

namespace rlhf {
namespace {

Transformer tiny_model(const std::string& family, bool lm_head = true, bool score_head = false) {
  torch::manual_seed(0);
  Transformer model(tiny_config(family, 97, 32, 2, 4, 2, 128), lm_head, score_head);
  init_weights(*model, 0.2);
  if (score_head) model->add_score_head();
  return model;
}

// Two right-padded rows (lengths 7 and 5): the mask path of attention is exercised.
PaddedBatch batch() {
  static std::vector<Sequence> rows = {{{3, 14, 15, 92, 65, 35, 89}, 2}, {{27, 18, 28, 18, 28}, 1}};
  return pad_right({&rows[0], &rows[1]}, 0, torch::kCPU);
}

torch::Tensor logits_of(TransformerImpl& model, const PaddedBatch& b) {
  torch::NoGradGuard no_grad;
  return model.logits(model.hidden_states(b.ids, positions_from_mask(b.attention), b.attention));
}

LoraConfig lora_config(std::vector<std::string> targets, double dropout = 0.0) {
  LoraConfig c;
  c.r = 4, c.alpha = 8, c.dropout = dropout, c.target_modules = std::move(targets);
  return c;
}

void randomise_adapters(TransformerImpl& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.named_parameters())
    if (p.key().find("_lora_B") != std::string::npos) p.value().normal_(0.0, 0.3);
}

class Families : public ::testing::TestWithParam<std::string> {};

TEST_P(Families, LoraStartsAsTheBaseModelExactly) {
  auto model = tiny_model(GetParam());
  model->eval();
  auto b = batch();
  auto before = logits_of(*model, b);
  add_lora(*model, lora_config({"all-linear"}));
  EXPECT_TRUE(torch::equal(logits_of(*model, b), before));  // B = 0: the delta adds exact zeros
}

TEST_P(Families, AdaptedForwardEqualsTheMergedWeights) {
  const std::vector<std::string> some =
      GetParam() == "gpt2" ? std::vector<std::string>{"c_proj"} : std::vector<std::string>{"k_proj", "up_proj", "o_proj"};
  for (const auto& targets : {std::vector<std::string>{"all-linear"}, std::vector<std::string>{}, some}) {
    auto model = tiny_model(GetParam());
    model->eval();
    add_lora(*model, lora_config(targets));
    randomise_adapters(*model);
    auto plain = tiny_model(GetParam());
    plain->eval();
    {
      torch::NoGradGuard no_grad;
      auto from = model->named_parameters();
      for (auto& p : plain->named_parameters()) p.value().copy_(lora_merged(*model, p.key(), from[p.key()]));
    }
    auto b = batch();
    auto adapted = logits_of(*model, b), merged = logits_of(*plain, b);
    EXPECT_FALSE(torch::allclose(adapted, logits_of(*tiny_model(GetParam()), b), 1e-3, 1e-3));  // the adapters matter
    EXPECT_TRUE(torch::allclose(adapted, merged, 1e-4, 1e-5)) << (adapted - merged).abs().max().item<double>();
  }
}

TEST_P(Families, AdaptersChangeOnlyTheirRowsOfAFusedMatrix) {
  if (GetParam() == "gpt2") GTEST_SKIP() << "GPT-2's c_attn is one module: no rows to single out";
  auto model = tiny_model(GetParam());
  add_lora(*model, lora_config({"q_proj", "gate_proj"}));
  randomise_adapters(*model);
  const auto& c = model->config();
  auto qkv = model->named_parameters()["layers.1.qkv_weight"];
  auto merged = lora_merged(*model, "layers.1.qkv_weight", qkv);
  EXPECT_FALSE(torch::equal(merged.slice(0, 0, c.q_dim()), qkv.slice(0, 0, c.q_dim())));
  EXPECT_TRUE(torch::equal(merged.slice(0, c.q_dim()), qkv.slice(0, c.q_dim())));  // k and v rows untouched
  auto up = model->named_parameters()["layers.0.up_weight"];
  auto merged_up = lora_merged(*model, "layers.0.up_weight", up);
  EXPECT_FALSE(torch::equal(merged_up.slice(0, 0, c.intermediate_size), up.slice(0, 0, c.intermediate_size)));
  EXPECT_TRUE(torch::equal(merged_up.slice(0, c.intermediate_size), up.slice(0, c.intermediate_size)));
  auto o = model->named_parameters()["layers.0.o_weight"];
  EXPECT_TRUE(torch::equal(lora_merged(*model, "layers.0.o_weight", o), o));
}

TEST_P(Families, SftStepsChangeOnlyTheAdapters) {
  auto model = tiny_model(GetParam());
  model->train();
  MemoryOptions memory;
  memory.use_peft = true, memory.lora_target_modules = "all-linear", memory.gradient_checkpointing = true;
  prepare_trained_model(*model, memory, "float32", false, "");
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : model->named_parameters()) before[p.key()] = p.value().detach().clone();
  TrainingOptions t;
  auto optimizer = make_adamw(trainable_parameters(*model), t, 1e-2);
  EXPECT_EQ(trainable_parameters(*model).size(), 2 * model->config().num_layers * (GetParam() == "gpt2" ? 4 : 7));
  auto b = batch();
  for (int step = 0; step < 3; ++step) {
    language_model_loss(*model, b).backward();
    optimizer->step();
    optimizer->zero_grad();
  }
  int changed = 0;
  for (const auto& p : model->named_parameters()) {
    const bool adapter = p.key().find("_lora_") != std::string::npos;
    const bool same = torch::equal(p.value(), before[p.key()]);
    if (!adapter) EXPECT_TRUE(same) << p.key();
    changed += adapter && !same;
  }
  EXPECT_EQ(changed, static_cast<int>(trainable_parameters(*model).size()));  // every A and B moved
}

// Gradients of every trainable parameter after one backward, with or without gradient checkpointing.
std::map<std::string, torch::Tensor> gradients(const std::string& family, bool checkpointing, bool lora, double dropout) {
  auto model = tiny_model(family);
  model->train();
  if (lora) add_lora(*model, lora_config({"all-linear"}, dropout));
  if (lora) randomise_adapters(*model);
  model->gradient_checkpointing = checkpointing;
  torch::manual_seed(123);  // the same dropout masks in both runs (the checkpointed backward must replay them)
  language_model_loss(*model, batch()).backward();
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : model->named_parameters())
    if (p.value().grad().defined()) out[p.key()] = p.value().grad().clone();
  return out;
}

TEST_P(Families, GradientCheckpointingGivesTheSameGradients) {
  for (int lora = 0; lora < 2; ++lora) {
    auto plain = gradients(GetParam(), false, lora, 0.2), recomputed = gradients(GetParam(), true, lora, 0.2);
    ASSERT_EQ(plain.size(), recomputed.size());
    ASSERT_GT(plain.size(), 0u);
    for (const auto& [name, g] : plain) {
      ASSERT_TRUE(recomputed.count(name)) << name;
      EXPECT_TRUE(torch::allclose(recomputed[name], g, 1e-4, 1e-6))
          << name << " (lora " << lora << "): " << (recomputed[name] - g).abs().max().item<double>();
    }
  }
}

TEST_P(Families, DisabledAdaptersUseTheBaseScoreHead) {
  auto model = tiny_model(GetParam(), false, true);
  auto b = batch();
  auto base_scores = score_at_last_token(*model, b.ids, b.attention).detach();
  LoraConfig c = lora_config({"all-linear"});
  c.train_score_head = true;
  add_lora(*model, c);
  EXPECT_TRUE(model->score.requires_grad());
  randomise_adapters(*model);
  {
    torch::NoGradGuard no_grad;
    model->score.add_(1.0);
  }
  EXPECT_FALSE(torch::allclose(score_at_last_token(*model, b.ids, b.attention), base_scores));
  {
    LoraDisabled off(*model);
    EXPECT_TRUE(torch::equal(score_at_last_token(*model, b.ids, b.attention), base_scores));
  }
  EXPECT_FALSE(torch::allclose(score_at_last_token(*model, b.ids, b.attention), base_scores));  // back on
}

// Generation under bf16 autocast with fp32 weights (PPO's policy under --dtype bfloat16) casts the matrix-product
// weights and the tied unembedding once instead of in every decode step, and keeps its KV cache in bf16: the same
// cast autocast makes, so sampled tokens and log-probs are bit-identical to the per-step casts, and the weights are the
// same fp32 tensors afterwards (the optimizer's state is keyed by them). With LoRA on, adapters stay fp32.
TEST_P(Families, GenerationCastsWeightsOnceUnderBf16Autocast) {
  auto model = tiny_model(GetParam());
  if (GetParam() == "qwen2") add_lora(*model, lora_config({"q_proj", "v_proj", "down_proj"}));
  model->eval();
  std::vector<torch::Tensor> before;
  std::vector<c10::TensorImpl*> identities;
  for (const auto& p : model->parameters()) before.push_back(p.detach().clone()), identities.push_back(p.unsafeGetTensorImpl());
  auto ids = torch::tensor({{0, 5, 6, 7}, {8, 9, 10, 11}}, torch::kLong);
  auto mask = torch::tensor({{0, 1, 1, 1}, {1, 1, 1, 1}}, torch::kLong);
  GenerationOptions o;
  o.max_new_tokens = 12;
  o.temperature = 0.7;
  Bf16AutocastOnAnyCpu autocast;  // a CPU without oneDNN's bf16 leaves the bf16 weights unpacked: the same products
  o.cast_weights_once = false;
  auto per_step = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(11));
  o.cast_weights_once = true;
  auto once = generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(11));
  EXPECT_TRUE(torch::equal(once.sequences, per_step.sequences));
  EXPECT_TRUE(torch::equal(once.response_logprobs, per_step.response_logprobs))
      << (once.response_logprobs - per_step.response_logprobs).abs().max().item<double>();
  EXPECT_FALSE(model->inference_unembedding.defined());
  const auto after = model->parameters();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].scalar_type(), torch::kFloat32) << i;
    EXPECT_EQ(after[i].unsafeGetTensorImpl(), identities[i]) << i;
    EXPECT_TRUE(torch::equal(after[i], before[i])) << i;
  }
}

// --dtype bfloat16 on a CPU without bf16 products (no oneDNN bf16 kernels: AVX2-only CPUs, or RLHF_CPU_ISA=avx2): the
// frozen weights stay bf16, AutocastGuard leaves autocast off, and the model computes in fp32 with its weights widened
// as read: the logits of an fp32 model holding the same (bf16-rounded) weights, and its greedy generation (the weights
// packed widened to fp32, the KV cache bf16 as the weights).
TEST_P(Families, Bf16WeightsRunInFp32WithoutBf16Products) {
  if (cpu_bf16_products())  // ctest runs this test with RLHF_CPU_ISA=avx2 only, which hides them on every x86-64 CPU
    GTEST_SKIP() << "this CPU runs bf16 products through oneDNN (" << cpu_features().describe()
                 << "): run with RLHF_CPU_ISA=avx2 to test the path of CPUs without them";
  auto bf16 = tiny_model(GetParam());
  MemoryOptions memory;
  prepare_frozen_model(*bf16, memory, "bfloat16");
  ASSERT_EQ(bf16->embed_tokens.scalar_type(), torch::kBFloat16);
  auto reference = tiny_model(GetParam());
  reference->eval();
  {
    torch::NoGradGuard no_grad;
    auto rounded = bf16->named_parameters();
    for (auto& p : reference->named_parameters()) p.value().copy_(rounded[p.key()].to(torch::kFloat32));
  }
  auto b = batch();
  const auto expected = logits_of(*reference, b);
  AutocastGuard autocast(torch::kCPU, "bfloat16");
  EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
  const auto logits = logits_of(*bf16, b);
  EXPECT_EQ(logits.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(logits, expected, 1e-5, 1e-5)) << (logits - expected).abs().max().item<double>();

  auto ids = torch::tensor({{0, 5, 6, 7}, {8, 9, 10, 11}}, torch::kLong);
  auto mask = torch::tensor({{0, 1, 1, 1}, {1, 1, 1, 1}}, torch::kLong);
  GenerationOptions o;
  o.max_new_tokens = 12;
  o.do_sample = false;
  for (const bool use_cache : {false, true}) {
    SCOPED_TRACE(use_cache ? "KV cache" : "no cache");
    o.use_cache = use_cache;
    auto ours = generate(*bf16, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(3));
    auto theirs = generate(*reference, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(3));
    EXPECT_TRUE(torch::equal(ours.sequences, theirs.sequences));
    // With a cache ours holds keys and values in bf16 (as its weights; the reference's in fp32): bf16's rounding.
    const double tolerance = use_cache ? 2e-2 : 1e-5;
    EXPECT_TRUE(torch::allclose(ours.response_logprobs, theirs.response_logprobs, tolerance, tolerance))
        << (ours.response_logprobs - theirs.response_logprobs).abs().max().item<double>();
  }
  for (const auto& p : bf16->parameters()) EXPECT_EQ(p.scalar_type(), torch::kBFloat16);
}

// LoRA's dropout-then-A with a bool mask: the same output and gradients (x and A) as F::dropout's arithmetic with that
// mask written out, in fp32 and under bf16 autocast; the mask drops about p of the elements.
TEST(LoraDropout, BoolMaskFunctionEqualsTheWrittenOutComposition) {
  torch::manual_seed(3);
  const double p = 0.25;
  for (const std::string dtype : {"float32", "bfloat16"}) {
    auto x = torch::randn({3, 5, 24}).requires_grad_(true), A = torch::randn({4, 24}).requires_grad_(true);
    auto keep = dropout_keep_mask(x, p);
    auto upstream = torch::randn({3, 5, 4});
    torch::Tensor out, reference;
    {
      Bf16AutocastOnAnyCpu autocast(dtype == "bfloat16");
      out = dropout_linear(x, A, keep, p);
      reference = torch::linear(x * keep.to(torch::kFloat32) / (1.0 - p), A);
    }
    EXPECT_EQ(out.scalar_type(), reference.scalar_type()) << dtype;
    EXPECT_TRUE(torch::allclose(out.to(torch::kFloat32), reference.to(torch::kFloat32), 1e-5, 1e-6)) << dtype;
    auto grads = torch::autograd::grad({out}, {x, A}, {upstream.to(out.scalar_type())});
    auto reference_grads = torch::autograd::grad({reference}, {x, A}, {upstream.to(reference.scalar_type())});
    const double tolerance = dtype == "float32" ? 1e-5 : 2e-2;
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(grads[i].scalar_type(), torch::kFloat32);
      EXPECT_TRUE(torch::allclose(grads[i], reference_grads[i], tolerance, tolerance))
          << dtype << " input " << i << ": max |diff| " << (grads[i] - reference_grads[i]).abs().max().item<double>();
    }
    // Dropped inputs get no gradient.
    EXPECT_EQ(grads[0].masked_select(keep.logical_not()).abs().max().item<double>(), 0.0);
  }
  auto big = torch::zeros({200, 500});
  const double dropped = 1.0 - dropout_keep_mask(big, p).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(dropped, p, 0.01);
}

INSTANTIATE_TEST_SUITE_P(Memory, Families, ::testing::Values("gpt2", "llama", "qwen2"));

TEST(Lora, UnknownTargetNamesAreRefused) {
  auto model = tiny_model("gpt2");
  try {
    add_lora(*model, lora_config({"q_proj"}));
    FAIL() << "q_proj accepted for GPT-2";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("c_attn"), std::string::npos) << e.what();
  }
  EXPECT_EQ(resolve_lora_targets(model->config(), {"c_proj"}), (std::vector<std::string>{"attn.c_proj", "mlp.c_proj"}));
  auto llama = tiny_model("llama");
  EXPECT_EQ(resolve_lora_targets(llama->config(), {}), (std::vector<std::string>{"self_attn.q_proj", "self_attn.v_proj"}));
}

// PPO with LoRA and one model object as policy and reference, and one as value and reward model: the first
// iteration's KL is exactly 0 (B = 0), the frozen bases never move, and the reference stays the base model.
TEST(LoraPpo, OneFrozenBaseServesPolicyAndReference) {
  auto lm = tiny_model("llama");
  auto original = tiny_model("llama");
  PpoModels models;
  models.policy = lm;
  models.reference = lm;
  models.value_model = copy_with_heads(*lm, false, true);
  models.reward_model = models.value_model;
  PpoOptions p;
  p.train.output_dir = ::testing::TempDir() + "/lora_ppo";
  p.train.max_length = 24, p.train.learning_rate = 1e-2;
  p.train.memory.use_peft = true, p.train.memory.lora_target_modules = "all-linear";
  p.train.memory.gradient_checkpointing = true;
  p.rollout_batch_size = 4, p.num_mini_batches = 2, p.response_length = 6, p.total_episodes = 8, p.quiet = true;
  p.value_learning_rate = 1e-2;
  std::vector<std::vector<int64_t>> prompts = {{5, 6, 7}, {8, 9}, {10, 11, 12, 13}, {14}};
  auto result = train_ppo(p, models, prompts, {}, -1, 0);
  ASSERT_EQ(result.mean_kl.size(), 2u);
  EXPECT_EQ(result.mean_kl[0], 0.0);
  EXPECT_NE(result.mean_kl[1], 0.0);  // the adapters moved after the first iteration's updates
  auto b = batch();
  lm->eval();
  {
    LoraDisabled off(*lm);
    EXPECT_TRUE(torch::equal(logits_of(*lm, b), logits_of(*original, b)));
  }
  EXPECT_FALSE(torch::allclose(logits_of(*lm, b), logits_of(*original, b)));
  for (const auto& p : lm->named_parameters())
    if (p.key().find("_lora_") == std::string::npos)
      EXPECT_TRUE(torch::equal(p.value(), original->named_parameters()[p.key()])) << p.key();
}

// Frozen models held in bf16 under bf16 autocast: the reference log-probs stay close to fp32 ones. The figures are
// printed (the README's accuracy note); the bound is bf16's ~3 significant digits over a tiny model.
TEST(Bf16, FrozenModelHeldInBf16) {
  auto fp32 = tiny_model("llama");
  auto bf16 = tiny_model("llama");
  MemoryOptions memory;
  prepare_frozen_model(*bf16, memory, "bfloat16");
  EXPECT_EQ(bf16->embed_tokens.scalar_type(), torch::kBFloat16);
  EXPECT_FALSE(bf16->embed_tokens.requires_grad());
  auto b = batch();
  auto reference = torch::log_softmax(logits_of(*fp32, b).to(torch::kFloat32), -1);
  torch::Tensor low;
  {
    AutocastGuard autocast(torch::kCPU, "bfloat16");
    low = torch::log_softmax(logits_of(*bf16, b).to(torch::kFloat32), -1);
  }
  const double max_error = (low - reference).abs().max().item<double>();
  const double mean_error = (low - reference).abs().mean().item<double>();
  std::printf("bf16 frozen vs fp32 log-probs (tiny Llama): max |diff| %.4f, mean %.5f\n", max_error, mean_error);
  EXPECT_LT(mean_error, 0.05);
}

}  // namespace
}  // namespace rlhf
