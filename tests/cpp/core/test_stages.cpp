// The three stages on tiny random models: the SFT loss is a masked NLL over response tokens only; the reward model
// does K forwards per prompt; PPO with a programmatic reward raises the score with a bounded KL, the adaptive KL
// controller lands near its target, and ptx lowers the pretraining loss. About 10 s on 2 busy cores (one thread).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <unistd.h>

#include "../temp_dir.h"
#include "tiny_policy.h"
#include "common/files.h"
#include "infer/batch.h"
#include "io/model_dir.h"
#include "tokenizer/bpe_train.h"
#include "train/losses.h"
#include "train/ppo.h"
#include "train/reward.h"

namespace rlhf {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------------------------
// SFT: the loss is −mean log π over response tokens only.

struct SftBatch {
  std::vector<Sequence> sequences;
  PaddedBatch batch;
};

SftBatch two_sequences() {
  SftBatch out;
  out.sequences.push_back({{5, 9, 13, 17, 21, 25, 29, 33, 37, 41}, 4});  // 4 prompt tokens, 6 response tokens
  out.sequences.push_back({{50, 44, 3, 8, 61, 2}, 2});                  // 2 prompt tokens, 4 response, 4 pads
  out.batch = pad_right({&out.sequences[0], &out.sequences[1]}, 0, torch::kCPU);
  return out;
}

// The reference: full logits → log_softmax → log-prob of each next token, summed by hand over the positions whose
// TARGET is a response token (position t predicts ids[t+1]; targets in [prompt_length, length)), divided by their count.
// `from` = 1 instead of prompt_length gives the loss over every token (the negative control).
torch::Tensor hand_masked_nll(TransformerImpl& model, const SftBatch& b, bool response_only) {
  auto hidden = model.hidden_states(b.batch.ids, positions_from_mask(b.batch.attention), b.batch.attention);
  auto logprobs = torch::log_softmax(model.logits(hidden).to(torch::kFloat64), -1);  // [B, T, V]
  torch::Tensor sum = torch::zeros({}, torch::kFloat64);
  int64_t count = 0;
  for (size_t row = 0; row < b.sequences.size(); ++row) {
    const auto& s = b.sequences[row];
    const int64_t first_target = response_only ? s.prompt_length : 1;
    for (int64_t target = first_target; target < static_cast<int64_t>(s.ids.size()); ++target) {
      sum = sum + logprobs[static_cast<int64_t>(row)][target - 1][s.ids[static_cast<size_t>(target)]];
      ++count;
    }
  }
  return -sum / static_cast<double>(count);
}

TEST(SftLoss, EqualsHandMaskedNllOverResponseTokensAndSoDoItsGradients) {
  auto model = tiny_policy(1, 64, 0.3);  // large weights: peaked, position-dependent distributions
  auto b = two_sequences();
  auto ours = language_model_loss(*model, b.batch);
  auto reference = hand_masked_nll(*model, b, true);
  EXPECT_NEAR(ours.item<double>(), reference.item<double>(), 1e-5);
  // Negative control: counting prompt targets too would give a clearly different number.
  const double all_tokens = hand_masked_nll(*model, b, false).item<double>();
  EXPECT_GT(std::abs(all_tokens - reference.item<double>()), 1e-2);

  // Gradients: ours equal the reference's (which has no term for any prompt target), parameter by parameter.
  model->zero_grad();
  ours.backward();
  std::vector<torch::Tensor> ours_grads;
  for (auto& p : model->parameters()) ours_grads.push_back(p.grad().clone());
  model->zero_grad();
  reference.backward();
  auto params = model->parameters();
  double largest = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    auto want = params[i].grad().to(torch::kFloat64);
    largest = std::max(largest, want.abs().max().item<double>());
    EXPECT_LT((ours_grads[i].to(torch::kFloat64) - want).abs().max().item<double>(), 1e-5) << "parameter " << i;
  }
  EXPECT_GT(largest, 1e-3);  // the comparison compares something
}

TEST(SftLoss, PromptTargetsHaveNoWeight) {
  // In a causal LM a prompt token is also context, so changing prompt *ids* changes the response's log-probs; what
  // must not matter is the log-prob assigned at a prompt target. Perturb exactly those and the loss is unchanged,
  // and its gradient there is zero.
  auto model = tiny_policy(2, 64, 0.3);
  auto b = two_sequences();
  auto logprobs = torch::log_softmax(
      model->logits(model->hidden_states(b.batch.ids, positions_from_mask(b.batch.attention), b.batch.attention)), -1);
  auto targets = logprobs.slice(1, 0, -1).gather(2, b.batch.ids.slice(1, 1).unsqueeze(2)).squeeze(2).detach();
  auto target_mask = b.batch.loss_mask.slice(1, 1) * b.batch.attention.slice(1, 1);  // what language_model_loss uses
  // Row 0: targets 1..3 are prompt tokens, 4..9 response; row 1: target 1 is prompt, 2..5 response, 6..9 pads.
  auto want = torch::tensor({{0, 0, 0, 1, 1, 1, 1, 1, 1}, {0, 1, 1, 1, 1, 0, 0, 0, 0}}, torch::kLong);
  EXPECT_TRUE(torch::equal(target_mask, want)) << target_mask;
  auto x = targets.clone().requires_grad_(true);
  auto loss = negative_log_likelihood(x, target_mask);
  auto perturbed = targets + (1 - target_mask) * torch::randn_like(targets) * 10;
  EXPECT_NEAR(negative_log_likelihood(perturbed, target_mask).item<double>(), loss.item<double>(), 1e-6);
  loss.backward();
  EXPECT_TRUE(torch::equal(x.grad() != 0, target_mask.to(torch::kBool)));
}

// ---------------------------------------------------------------------------------------------------------------
// Reward model: K forwards per prompt (not 2·C(K,2)); normalised so that the demonstrations score 0 on average.

TEST(RewardStage, ScoresKSequencesPerPromptPerEpoch) {
  torch::set_num_threads(1);  // see single_thread() below
  TempDir dir("stages", "rm");
  const std::vector<std::string> corpus = {"the cat sat on the mat", "a dog ran in the park", "the sun is warm today",
                                           "we like tea and cake", "rain falls on the hill"};
  BpeTrainOptions bpe;
  bpe.eos_token = bpe.pad_token = "<|endoftext|>";
  auto tokenizer = train_bpe(corpus, 300, {"<|endoftext|>"}, bpe);
  const std::string model_dir = dir / "sft";
  auto model = tiny_policy(3, tokenizer->vocab_size());
  save_model(*model, model_dir);
  tokenizer->save_pretrained(model_dir);

  // K = 2 (pairwise format), 3, 4 with a tie, 5: ΣK = 14 sequences per epoch. Expanding the comparisons into pairs
  // would cost 2·(1 + 3 + 5 + 10) = 38.
  {
    std::ofstream f(dir / "rankings.jsonl");
    f << R"({"prompt": "the cat", "chosen": " sat on the mat", "rejected": " ran"})" "\n"
      << R"({"prompt": "a dog", "responses": [" ran", " sat", " is warm"], "ranking": [1, 0, 2]})" "\n"
      << R"({"prompt": "we like", "responses": [" tea", " cake", " rain", " the"], "ranks": [1, 1, 2, 3]})" "\n"
      << R"({"prompt": "the sun", "responses": [" is", " falls", " on", " we", " a"], "ranking": [4, 3, 2, 1, 0]})" "\n";
    std::ofstream e(dir / "held_out.jsonl");
    e << R"({"prompt": "rain", "responses": [" falls", " is", " cake"], "ranking": [0, 1, 2]})" "\n";
    std::ofstream d(dir / "demonstrations.jsonl");
    d << R"({"prompt": "the cat", "completion": "sat on the mat"})" "\n"
      << R"({"prompt": "a dog", "completion": "ran in the park"})" "\n"
      << R"({"prompt": "rain", "completion": "falls on the hill"})" "\n";
  }
  RewardOptions o;
  o.train.output_dir = dir / "rm";
  o.train.num_train_epochs = 3;
  o.train.per_device_train_batch_size = 2;
  o.train.learning_rate = 1e-3;
  o.train.max_length = 64;  // no demonstration is cut (the plain format's words are 20-odd byte tokens here)
  o.model_name_or_path = model_dir;
  o.dataset = dir / "rankings.jsonl";
  o.eval_dataset = dir / "held_out.jsonl";  // scored after training: not counted
  o.normalize_dataset = dir / "demonstrations.jsonl";
  o.quiet = true;
  auto result = run_reward_training(o);
  EXPECT_EQ(result.sequences_scored, 3 * 14);
  EXPECT_EQ(result.steps, 3 * 2);
  EXPECT_EQ(result.eval_pairs, 3);
  EXPECT_GE(result.eval_accuracy, 0.0);
  // The demonstrations, encoded here in the plain format (prompt, then " response", then EOS) and scored at their last
  // token by the saved reward model, average 0 once the stored offset is subtracted.
  auto reward_model = load_model(o.train.output_dir);
  const double offset = load_reward_offset(o.train.output_dir);
  const std::vector<std::pair<std::string, std::string>> demonstrations = {
      {"the cat", "sat on the mat"}, {"a dog", "ran in the park"}, {"rain", "falls on the hill"}};
  double mean = 0;
  for (const auto& [prompt, completion] : demonstrations) {
    auto ids = tokenizer->encode("Instruction: " + prompt + "\nResponse:");
    for (auto id : tokenizer->encode(" " + completion)) ids.push_back(id);
    ids.push_back(tokenizer->eos_id());
    torch::NoGradGuard no_grad;
    auto input = torch::tensor(ids, torch::kLong).unsqueeze(0);
    auto hidden = reward_model->hidden_states(input, torch::arange(input.size(1), torch::kLong).unsqueeze(0), {});
    mean += (reward_model->scores(hidden)[0][-1].item<double>() - offset) / static_cast<double>(demonstrations.size());
  }
  EXPECT_GT(std::abs(offset), 1e-4);  // the shift does something
  EXPECT_NEAR(mean, 0.0, 1e-5);
}

// ---------------------------------------------------------------------------------------------------------------
// PPO with a programmatic reward: the score is how many times token 7 appears in the response (8 tokens, vocab 64:
// about 8/64 = 0.125 under the near-uniform initial policy; at most 8): count_reward with kRewardToken.

PpoOptions tiny_ppo_options(const std::string& output_dir, int64_t seed, int64_t iterations) {
  PpoOptions o;
  o.train.output_dir = output_dir;
  o.train.seed = seed;
  o.train.learning_rate = 2e-3;
  o.train.lr_scheduler_type = "constant";
  o.train.warmup_steps = 0;  // the margins below were measured without PPO's default warm-up
  o.train.max_length = 32;
  o.value_learning_rate = 2e-3;
  o.rollout_batch_size = 32;
  o.num_mini_batches = 2;
  o.num_ppo_epochs = 2;
  o.response_length = 8;
  o.total_episodes = 32 * iterations;
  o.kl_coef = 0.05;
  o.ptx_coef = 0;  // plain PPO unless a test turns ptx on
  o.quiet = true;
  return o;
}

struct TinyPpo {
  PpoResult result;
  Transformer policy{nullptr};
};

TinyPpo run_tiny_ppo(const PpoOptions& o, uint64_t model_seed, const std::vector<Sequence>& ptx = {}) {
  PpoModels models;
  models.policy = tiny_policy(model_seed);
  models.reference = copy_with_heads(*models.policy, true, false);
  models.value_model = copy_with_heads(*models.policy, false, true);
  auto prompts = random_prompts(model_seed + 100, 16, 64);
  TinyPpo out;
  out.result = train_ppo(o, models, prompts, ptx, /*eos_id=*/-1, /*pad_id=*/0, count_reward);
  out.policy = models.policy;
  return out;
}

double mean(const std::vector<double>& v, size_t from, size_t to) {
  return std::accumulate(v.begin() + static_cast<std::ptrdiff_t>(from), v.begin() + static_cast<std::ptrdiff_t>(to), 0.0) /
         static_cast<double>(to - from);
}

// The β-regularised optimum for this reward under a uniform reference (Σ_t 1[y_t = 7] is additive over tokens, so the
// optimal policy tilts each token: π*(7) = p = e^{1/β} / (63 + e^{1/β})). Per response: score 8p and
// KL = 8·[p·log(64p) + (1 − p)·log(64(1 − p)/63)]. β = 0.25: p = 0.464, score 3.71, KL 9.99 nats.
double optimal_kl(double beta) {
  const double e = std::exp(1.0 / beta), p = e / (63.0 + e);
  return 8.0 * (p * std::log(64.0 * p) + (1.0 - p) * std::log(64.0 * (1.0 - p) / 63.0));
}

constexpr int64_t kCountIterations = 25;
PpoOptions count_reward_options(const std::string& output_dir, int64_t seed) {
  auto o = tiny_ppo_options(output_dir, seed, kCountIterations);
  o.kl_coef = 0.25;
  return o;
}

constexpr int64_t kAdaptiveIterations = 60;
PpoOptions adaptive_kl_options(const std::string& output_dir, int64_t seed) {
  auto o = tiny_ppo_options(output_dir, seed, kAdaptiveIterations);
  o.train.learning_rate = o.value_learning_rate = 1e-3;
  o.kl_coef = 0.25;    // alone, this β would settle near its optimum's KL of ~10-13 nats
  o.kl_target = 4.0;   // nats per response
  o.kl_horizon = 128;  // 4 rollout batches: β moves by up to ×(1 ± 0.05) per iteration
  return o;
}

// A sparse reward decided by the first response token and paid on the last (8 tokens later): 1 when the first token
// is one of 8 of the 64 (about 0.125 under the initial policy), else 0. GAE must carry it back to the token that
// decided it, as a task's verdict reaches the early token that named the right animal. Survey (seeds 1-4, 50
// iterations, β 0.05): λ 0.95 gains 0.59-0.82 (to 0.64-0.93); λ 0.5, which lets little of it back, 0.08-0.39. One
// seed's gain also depends on the CPU's rounding (seed 12 passed alone on an AVX-512 Xeon and gains 0.43 on an AVX2
// EPYC; seeds 12-14 there: 0.43, 0.70, 0.81), so the test takes the mean gain of three seeds.
TEST(PpoStage, ATerminalRewardReachesTheTokenThatDecidedIt) {
  single_thread();
  TempDir dir("stages", "terminal");
  constexpr int64_t n = 50;
  double first_sum = 0, gain_sum = 0;
  const std::vector<int64_t> seeds = {12, 13, 14};
  for (int64_t seed : seeds) {
    auto o = tiny_ppo_options(dir / ("run" + std::to_string(seed)), seed, n);
    PpoModels models;
    models.policy = tiny_policy(seed);
    models.reference = copy_with_heads(*models.policy, true, false);
    models.value_model = copy_with_heads(*models.policy, false, true);
    auto first_token_reward = [](const std::vector<int64_t>&, const torch::Tensor& ids, const torch::Tensor&) {
      auto first = ids.select(1, 0);
      return ((first >= 7) & (first < 15)).to(torch::kFloat32);
    };
    auto r = train_ppo(o, models, random_prompts(100 + seed, 16, 64), {}, -1, 0, first_token_reward);
    ASSERT_EQ(r.mean_scores.size(), static_cast<size_t>(n));
    const double first = mean(r.mean_scores, 0, 3), last = mean(r.mean_scores, n - 3, n);
    std::printf("terminal reward, seed %lld: score %.3f -> %.3f, KL %.3f\n", static_cast<long long>(seed), first, last,
                r.mean_kl.back());
    first_sum += first, gain_sum += last - first;
  }
  const double runs = static_cast<double>(seeds.size());
  EXPECT_LT(first_sum / runs, 0.3);
  EXPECT_GT(gain_sum / runs, 0.45);
}

// Run-to-run noise (DISABLED_NoiseSurvey, model/prompt/sampling seeds 1-6, this configuration): the mean score of the
// first 3 iterations is 0.15-0.21 (one batch of 32 responses has a standard error of ~0.06 there); of the last 3,
// 4.36-4.72; the KL of the last 3 iterations 12.3-13.5 nats (the optimum's 10, overshot a little at this learning
// rate); the penalised objective score − β·KL goes from ~0.15 to 1.24-1.35. The margins below are half the smallest
// measured gain or wider.
TEST(PpoStage, CountRewardRisesWhileKlStaysBounded) {
  single_thread();
  TempDir dir("stages", "ppo");
  const int64_t n = kCountIterations;
  auto o = count_reward_options(dir / "run", 11);
  auto r = run_tiny_ppo(o, 11).result;
  ASSERT_EQ(r.iterations, n);
  ASSERT_EQ(r.mean_scores.size(), static_cast<size_t>(n));
  const double first = mean(r.mean_scores, 0, 3), last = mean(r.mean_scores, n - 3, n);
  const double kl_first = mean(r.mean_kl, 0, 3), kl_last = mean(r.mean_kl, n - 3, n);
  std::printf("count reward: score %.3f -> %.3f, KL %.3f -> %.3f (optimum at beta %.2f: %.2f)\n", first, last, kl_first,
              kl_last, o.kl_coef, optimal_kl(o.kl_coef));
  EXPECT_LT(first, 0.5);
  EXPECT_GT(last, first + 2.0);
  // Bounded KL: below twice the regularised optimum's (a policy that ignores the penalty heads for the ceiling
  // 8·log 64 ≈ 33 nats: with β = 0.05 this run reached 29.5), and the penalised objective rose too.
  EXPECT_LT(kl_last, 2.0 * optimal_kl(o.kl_coef));
  EXPECT_GT(last - o.kl_coef * kl_last, first - o.kl_coef * kl_first + 0.5);
  EXPECT_LT(std::abs(r.mean_kl.front()), 1e-4);  // the first rollouts come from π_SFT itself: KL 0
}

// The old log-probs taken from the sampling steps (TRL's way, --rollout_logprobs sampling) are the same numbers as a
// second forward over prompt + response (the default), up to rounding: the same samples, scores and KL, and the same
// weights after a few updates. Temperature 0.7 checks that both divide by T. Adam magnifies rounding in near-zero
// gradients: the weights differed by up to 1.3e-5 after 12 updates (lr 2e-3); with the sampling log-probs scaled by 0.7
// (a missing T) 33 checks failed here.
TEST(PpoStage, SamplingLogprobsEqualRecomputedOnes) {
  single_thread();
  TempDir dir("stages", "ppo-logprobs");
  std::vector<TinyPpo> runs;
  for (const char* source : {"recompute", "sampling"}) {
    auto o = tiny_ppo_options(dir / source, 13, 3);
    o.temperature = 0.7;
    o.rollout_logprobs = source;
    runs.push_back(run_tiny_ppo(o, 13));
  }
  ASSERT_EQ(runs[0].result.iterations, 3);
  for (size_t i = 0; i < runs[0].result.mean_scores.size(); ++i) {
    EXPECT_DOUBLE_EQ(runs[0].result.mean_scores[i], runs[1].result.mean_scores[i]) << "iteration " << i;
    EXPECT_NEAR(runs[0].result.mean_kl[i], runs[1].result.mean_kl[i], 1e-4) << "iteration " << i;
  }
  auto a = runs[0].policy->parameters(), b = runs[1].policy->parameters();
  for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(torch::allclose(a[k], b[k], 1e-4, 1e-4)) << "parameter " << k;
  auto bad = tiny_ppo_options(dir / "bad", 13, 1);
  bad.rollout_logprobs = "generation";
  EXPECT_THROW(run_tiny_ppo(bad, 13), std::exception);
}

// Adaptive β (Ziegler et al.). The controller only sees the KL after the policy has moved, so β first shrinks (KL ≈ 0
// below the target), the policy overshoots, β grows, and the KL comes back and oscillates around the target. Survey
// (seeds 1-6, and 12 used here): the mean KL of the last 10 iterations was 3.8-5.75 nats for a target of 4 (single
// iterations range ~1-9), β ended at 0.31-0.37. A factor of 2 either way covers that with room; the fixed β of the
// start settles at 12-13.5 nats (the count-reward test).
TEST(PpoStage, AdaptiveKlEndsNearItsTarget) {
  single_thread();
  TempDir dir("stages", "ppo-kl");
  const int64_t n = kAdaptiveIterations;
  auto o = adaptive_kl_options(dir / "run", 12);
  auto r = run_tiny_ppo(o, 12).result;
  const double kl_end = mean(r.mean_kl, n - 10, n);
  std::printf("adaptive KL: beta %.4f -> %.4f, KL of the last 10 iterations %.3f (target %.1f)\n", r.kl_coefs.front(),
              r.kl_coefs.back(), kl_end, o.kl_target);
  EXPECT_GT(kl_end, o.kl_target / 2);
  EXPECT_LT(kl_end, o.kl_target * 2);
  EXPECT_GT(r.kl_coefs.back(), r.kl_coefs.front());  // the reward pulls harder than β = 0.25 allows for 4 nats
}

// PPO-ptx: the pretraining text follows a rule the random policy does not know (each token is the previous one + 1,
// modulo 64). Same seed, same number of iterations: with γ = 1 the NLL on those windows falls well below log 64 ≈ 4.16;
// with γ = 0 it does not fall. Survey (seeds 1-6): initial 4.17-4.18, γ = 0 4.23-4.26, γ = 1 2.73-2.77; a margin of
// 1.0 nats against a spread of 0.05.
std::vector<Sequence> counting_windows() {
  std::vector<Sequence> windows;
  for (int64_t start = 0; start < 64; start += 4) {
    Sequence s;
    for (int64_t i = 0; i < 16; ++i) s.ids.push_back((start + i) % 64);
    windows.push_back(s);
  }
  return windows;
}

double window_nll(TransformerImpl& policy, const std::vector<Sequence>& windows) {
  torch::NoGradGuard no_grad;
  std::vector<const Sequence*> rows;
  for (const auto& w : windows) rows.push_back(&w);
  return language_model_loss(policy, pad_right(rows, 0, torch::kCPU)).item<double>();
}

constexpr int64_t kPtxIterations = 8;
struct PtxOutcome {
  double initial, plain, with_ptx;
  TinyPpo ptx_run;
};
PtxOutcome run_ptx_pair(const TempDir& dir, int64_t seed) {
  const auto windows = counting_windows();
  auto plain_options = tiny_ppo_options(dir / "plain", seed, kPtxIterations);
  auto ptx_options = tiny_ppo_options(dir / "ptx", seed, kPtxIterations);
  ptx_options.ptx_coef = 1.0;
  ptx_options.ptx_ratio = 1;
  auto plain = run_tiny_ppo(plain_options, static_cast<uint64_t>(seed), windows);
  auto with_ptx = run_tiny_ppo(ptx_options, static_cast<uint64_t>(seed), windows);
  return {window_nll(*tiny_policy(static_cast<uint64_t>(seed)), windows), window_nll(*plain.policy, windows),
          window_nll(*with_ptx.policy, windows), with_ptx};
}

TEST(PpoStage, PtxLowersThePretrainingLoss) {
  single_thread();
  TempDir dir("stages", "ptx");
  auto out = run_ptx_pair(dir, 13);
  std::printf("ptx NLL: initial %.3f, gamma=0 %.3f, gamma=1 %.3f\n", out.initial, out.plain, out.with_ptx);
  EXPECT_LT(out.with_ptx, out.plain - 1.0);
  EXPECT_LT(out.with_ptx, out.initial - 1.0);
  // The ptx loss logged per iteration falls as well.
  const auto& losses = out.ptx_run.result.ptx_losses;
  EXPECT_LT(losses.back(), losses.front());
}

// How the margins above were chosen: each configuration over six seeds. Run with
//   rlhf_core_tests --gtest_also_run_disabled_tests --gtest_filter='*NoiseSurvey*'
TEST(PpoStage, DISABLED_NoiseSurvey) {
  single_thread();
  TempDir dir("stages", "ppo-noise");
  for (int64_t seed = 1; seed <= 6; ++seed) {
    const auto u = static_cast<uint64_t>(seed);
    const int64_t c = kCountIterations, a = kAdaptiveIterations;
    auto count = run_tiny_ppo(count_reward_options(dir / ("count" + std::to_string(seed)), seed), u).result;
    auto adaptive = run_tiny_ppo(adaptive_kl_options(dir / ("kl" + std::to_string(seed)), seed), u).result;
    auto ptx = run_ptx_pair(dir, seed);
    std::printf("seed %lld: count score first3 %.3f last3 %.3f, KL last3 %.2f | adaptive KL last10 %.2f, beta %.3f | "
                "ptx NLL initial %.3f gamma=0 %.3f gamma=1 %.3f\n",
                static_cast<long long>(seed), mean(count.mean_scores, 0, 3), mean(count.mean_scores, c - 3, c),
                mean(count.mean_kl, c - 3, c), mean(adaptive.mean_kl, a - 10, a), adaptive.kl_coefs.back(),
                ptx.initial, ptx.plain, ptx.with_ptx);
  }
}

}  // namespace
}  // namespace rlhf

