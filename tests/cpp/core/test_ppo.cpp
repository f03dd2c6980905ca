// PPO's details one at a time (issue 26), each checked against a computation of the test's own from what an iteration
// trained on: train_ppo's rollout observer (every tensor of the iteration), or the files of run_ppo --save_rollouts.
//   EOS: the response mask ends at it, the score lands on it (a reward function, and a reward model), the
//        missing_eos_penalty falls on responses without one.
//   temperature: in the sampling, recompute, reference and training passes; the first minibatch's ratio is exactly 1.
//   values: V_t is read from the hidden state before response token t.
//   the value model starts from the normalised RM, so the RM's offset does not change a run (bug 1).
//   the value step is one AdamW step on the unscaled value loss clipped at max_grad_norm (no vf_coef; deviation 5).
//   an early stop on approx-KL comes before the step of the minibatch that crosses the threshold (deviation 7).
//   the EMA of the policy's weights, with and without LoRA (bug 3), and the saved policy is the EMA.
//   the defaults follow the paper and PPO.md (deviation 9).
// Tiny random models on one thread: a few seconds in all.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unistd.h>

#include "../temp_dir.h"
#include "tiny_policy.h"
#include "common/files.h"
#include "infer/batch.h"
#include "io/model_dir.h"
#include "model/lora.h"
#include "pipeline/pipeline.h"
#include "tokenizer/bpe_train.h"
#include "train/losses.h"
#include "train/ppo.h"
#include "train/reward.h"

namespace rlhf {
namespace {

namespace fs = std::filesystem;
using Named = std::map<std::string, torch::Tensor>;

RolloutObserver capture(std::vector<Named>* out) {
  return [out](int64_t, const RolloutTensors& tensors) { out->emplace_back(tensors.begin(), tensors.end()); };
}

// One row of a rollout without its padding: the real prompt tokens, then the response tokens up to its end.
struct Row {
  std::vector<int64_t> ids;
  int64_t prompt_length = 0, response_length = 0;
};
Row real_row(const Named& it, int64_t b) {
  const auto ids = it.at("ids"), mask = it.at("mask"), response_mask = it.at("response_mask");
  const int64_t N = response_mask.size(1), P = ids.size(1) - N;
  Row row;
  for (int64_t t = 0; t < P + N; ++t)
    if (mask[b][t].item<int64_t>() == 1 && (t < P || response_mask[b][t - P].item<int64_t>() == 1)) {
      row.ids.push_back(ids[b][t].item<int64_t>());
      (t < P ? row.prompt_length : row.response_length) += 1;
    }
  return row;
}

// The hidden states of one unpadded row, positions 0..L-1 and no mask: [L, C].
torch::Tensor row_hidden(TransformerImpl& model, const Row& row) {
  torch::NoGradGuard no_grad;
  auto ids = torch::tensor(row.ids, torch::kLong).unsqueeze(0);
  return model.hidden_states(ids, torch::arange(ids.size(1), torch::kLong).unsqueeze(0), {}).squeeze(0);
}

double masked_max_abs(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& mask) {
  return ((a - b).abs() * mask.to(a.scalar_type())).max().item<double>();
}

// ---------------------------------------------------------------------------------------------------------------
// A reward function learns which prompt each episode answers (rule-based rewards, `rlhf pipeline --ppo_reward
// checker`, need the prompt's task): prompt i starts with token 10 + i and the reward is i, so each episode's score
// must be its own prompt's first token less 10, over two passes through the prompts in their shuffled orders.
TEST(PpoDetails, ARewardFunctionIsToldEachEpisodesPrompt) {
  single_thread();
  TempDir dir("ppo", "prompt_indices");
  auto o = tiny_options(dir / "run", 2, 16);
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i = 0; i < 12; ++i) prompts.push_back({10 + i, 5});
  auto index_reward = [](const std::vector<int64_t>& indices, const torch::Tensor&, const torch::Tensor&) {
    std::vector<float> v(indices.begin(), indices.end());
    return torch::tensor(v);
  };
  auto m = tiny_models(29);
  std::vector<Named> seen;
  train_ppo(o, m, prompts, {}, -1, 0, index_reward, nullptr, capture(&seen));
  ASSERT_EQ(seen.size(), 2u);
  std::set<int64_t> answered;
  for (const auto& it : seen) {
    const auto ids = it.at("ids"), scores = it.at("scores");
    for (int64_t b = 0; b < ids.size(0); ++b) {
      const int64_t prompt = ids[b][0].item<int64_t>() - 10;
      EXPECT_EQ(scores[b].item<float>(), static_cast<float>(prompt)) << "episode " << b;
      answered.insert(prompt);
    }
  }
  EXPECT_EQ(answered.size(), prompts.size()) << "32 episodes over 12 prompts answer every one";
}

// ---------------------------------------------------------------------------------------------------------------
// EOS

// A random policy over 64 tokens with EOS = 3 and 24-token responses: about a third of the responses end with EOS.
TEST(PpoDetails, EosEndsTheResponseCarriesTheScoreAndTheMissingEosPenalty) {
  single_thread();
  TempDir dir("ppo", "eos");
  auto o = tiny_options(dir / "run", 2, 32);
  o.response_length = 24;
  o.missing_eos_penalty = 2.0;
  constexpr int64_t eos = 3, pad = 0;
  auto m = tiny_models(21);
  std::vector<Named> seen;
  train_ppo(o, m, random_prompts(121, 16), {}, eos, pad, count_reward, nullptr, capture(&seen));
  ASSERT_EQ(seen.size(), 2u);
  int64_t ended = 0, cut = 0;
  for (const auto& it : seen) {
    const auto ids = it.at("response_ids"), mask = it.at("response_mask"), rewards = it.at("rewards");
    const auto kl = it.at("logprobs") - it.at("ref_logprobs");
    const int64_t B = ids.size(0), N = ids.size(1);
    for (int64_t b = 0; b < B; ++b) {
      int64_t first_eos = -1;
      for (int64_t t = 0; t < N && first_eos < 0; ++t)
        if (ids[b][t].item<int64_t>() == eos) first_eos = t;
      if (first_eos < 0) EXPECT_EQ(N, o.response_length) << "a response without EOS runs to the length limit";
      const int64_t last = first_eos >= 0 ? first_eos : N - 1;
      double count = 0;
      for (int64_t t = 0; t < N; ++t) {
        const std::string where = "row " + std::to_string(b) + " token " + std::to_string(t);
        EXPECT_EQ(mask[b][t].item<int64_t>(), t <= last ? 1 : 0) << where;
        if (t > last) {  // after EOS: padding, and nothing to learn from
          EXPECT_EQ(ids[b][t].item<int64_t>(), pad) << where;
          EXPECT_EQ(rewards[b][t].item<float>(), 0.0f) << where;
          EXPECT_EQ(it.at("advantages")[b][t].item<float>(), 0.0f) << where;
          EXPECT_EQ(it.at("returns")[b][t].item<float>(), 0.0f) << where;
          continue;
        }
        count += ids[b][t].item<int64_t>() == kRewardToken;
        if (t < last) EXPECT_NEAR(rewards[b][t].item<double>(), -o.kl_coef * kl[b][t].item<double>(), 1e-6) << where;
      }
      EXPECT_EQ(it.at("scores")[b].item<double>(), count) << "row " << b;
      // The score (less the penalty when the response was cut) lands on EOS, or on the final token.
      const double penalty = first_eos < 0 ? o.missing_eos_penalty : 0.0;
      EXPECT_NEAR(rewards[b][last].item<double>(), count - penalty - o.kl_coef * kl[b][last].item<double>(), 1e-5)
          << "row " << b;
      (first_eos >= 0 ? ended : cut) += 1;
    }
  }
  EXPECT_GE(ended, 8);  // both kinds were seen
  EXPECT_GE(cut, 8);
}

// With a reward model, its score is read at the EOS that closes the response: the same as the model run on the
// unpadded sequence that ends there, less the normalisation offset.
TEST(PpoDetails, TheRewardModelScoresTheSequenceThatEndsAtEos) {
  single_thread();
  TempDir dir("ppo", "eos-rm");
  auto o = tiny_options(dir / "run", 1, 32);
  o.response_length = 24;
  constexpr int64_t eos = 3;
  auto m = tiny_models(22, 0.02, true);
  m.reward_offset = 0.25;
  auto reward_model = copy_with_heads(*m.reward_model, false, true);
  std::vector<Named> seen;
  train_ppo(o, m, random_prompts(122, 16), {}, eos, 0, nullptr, nullptr, capture(&seen));
  ASSERT_EQ(seen.size(), 1u);
  const auto& it = seen[0];
  int64_t ended = 0;
  for (int64_t b = 0; b < it.at("scores").size(0); ++b) {
    const Row row = real_row(it, b);
    ended += row.ids.back() == eos;
    const double want = reward_model->scores(row_hidden(*reward_model, row))[-1].item<double>() - m.reward_offset;
    EXPECT_NEAR(it.at("scores")[b].item<double>(), want, 1e-5) << "row " << b;
  }
  EXPECT_GE(ended, 4);
}

// ---------------------------------------------------------------------------------------------------------------
// Temperature and the first ratio

// T = 0.7 on a peaked policy (init std 0.3): every log-prob of the first iteration equals log_softmax(logits / T) of the
// unpadded sequence, computed here; the reference equals the policy there exactly (the same weights and batch), and the
// training forward of each iteration's first minibatch equals the old log-probs to rounding (ratio 1 before any
// update). Not exactly: that forward runs a quarter of the batch, and a GEMM of another shape may sum in another
// order (bitwise equal on an AVX-512 Xeon, 2e-6 apart on an AVX2 EPYC); a wrong temperature or stale weights would be
// 0.1 or more apart.
TEST(PpoDetails, TemperatureInEveryLogprobPassAndTheFirstRatioIsExactlyOne) {
  single_thread();
  TempDir dir("ppo", "temperature");
  auto o = tiny_options(dir / "run", 3);
  o.temperature = 0.7;
  auto m = tiny_models(23, 0.3);
  auto reference = copy_with_heads(*m.reference, true, false);
  std::vector<Named> seen;
  train_ppo(o, m, random_prompts(123, 16), {}, -1, 0, count_reward, nullptr, capture(&seen));
  ASSERT_EQ(seen.size(), 3u);

  const auto& first = seen[0];
  const auto response_ids = first.at("response_ids");
  double largest_t_effect = 0;
  for (int64_t b = 0; b < response_ids.size(0); ++b) {
    const Row row = real_row(first, b);
    auto logits = reference->logits(row_hidden(*reference, row)).to(torch::kFloat64);  // [L, V]
    for (int64_t t = 0; t < row.response_length; ++t) {
      auto at_position = logits[row.prompt_length - 1 + t];
      const int64_t token = response_ids[b][t].item<int64_t>();
      const double want = torch::log_softmax(at_position / o.temperature, -1)[token].item<double>();
      largest_t_effect = std::max(largest_t_effect, std::abs(want - torch::log_softmax(at_position, -1)[token].item<double>()));
      for (const char* name : {"sampling_logprobs", "logprobs", "ref_logprobs"})
        EXPECT_NEAR(first.at(name)[b][t].item<double>(), want, 1e-5) << name << " row " << b << " token " << t;
    }
  }
  EXPECT_GT(largest_t_effect, 0.1);  // dividing by T matters here
  const auto mask = first.at("response_mask");
  EXPECT_EQ(masked_max_abs(first.at("ref_logprobs"), first.at("logprobs"), mask), 0.0);
  for (size_t i = 0; i < seen.size(); ++i) {
    const auto& it = seen[i];
    const auto rows = it.at("first_minibatch_rows");
    ASSERT_EQ(rows.size(0), o.rollout_batch_size / o.num_mini_batches);
    EXPECT_LT(masked_max_abs(it.at("first_minibatch_logprobs"), it.at("logprobs").index_select(0, rows),
                             it.at("response_mask").index_select(0, rows)),
              1e-5)
        << "iteration " << i;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Values

// V_t is the value model's read-out at the hidden state just before response token t: position prompt_length − 1 + t
// of the unpadded sequence.
TEST(PpoDetails, ValuesAreReadBeforeEachResponseToken) {
  single_thread();
  TempDir dir("ppo", "values");
  auto o = tiny_options(dir / "run", 1);
  auto m = tiny_models(24, 0.3);
  auto value_model = copy_with_heads(*m.value_model, false, true);
  std::vector<Named> seen;
  train_ppo(o, m, random_prompts(124, 16), {}, -1, 0, count_reward, nullptr, capture(&seen));
  const auto& it = seen.at(0);
  double largest_shift = 0;
  for (int64_t b = 0; b < it.at("values").size(0); ++b) {
    const Row row = real_row(it, b);
    auto scores = value_model->scores(row_hidden(*value_model, row));  // [L]
    for (int64_t t = 0; t < row.response_length; ++t) {
      const double want = scores[row.prompt_length - 1 + t].item<double>();
      EXPECT_NEAR(it.at("values")[b][t].item<double>(), want, 1e-5) << "row " << b << " token " << t;
      largest_shift = std::max(largest_shift, std::abs(scores[row.prompt_length + t].item<double>() - want));
    }
  }
  EXPECT_GT(largest_shift, 1e-3);  // one position later would read other values
}

// The value step: one AdamW step (lr value_learning_rate) on the gradient of the value loss itself, clipped at
// max_grad_norm, with no coefficient on the loss. A large ε (1.0) makes AdamW's step proportional to the gradient, so
// a coefficient would show; max_grad_norm is set between the gradient's norm and a tenth of it, so clipping after
// scaling by 0.1 (the old vf_coef) would not clip at all.
TEST(PpoDetails, TheValueStepIsOneAdamWStepOnTheUnscaledClippedValueLoss) {
  single_thread();
  TempDir dir("ppo", "value-step");
  auto o = tiny_options(dir / "run", 1);
  o.num_mini_batches = 1;
  o.train.adam_epsilon = 1.0;
  o.value_learning_rate = 0.05;
  auto run = [&](double max_grad_norm, std::vector<Named>* seen) {
    auto options = o;
    options.train.max_grad_norm = max_grad_norm;
    auto m = tiny_models(25, 0.3);
    train_ppo(options, m, random_prompts(125, 16), {}, -1, 0, count_reward, nullptr, capture(seen));
    return m.value_model;
  };
  // The rollout (and the value model before its step) do not depend on max_grad_norm: find the gradient's norm first.
  std::vector<Named> seen;
  run(1.0, &seen);
  const auto& it = seen.at(0);
  const int64_t N = it.at("response_ids").size(1), P = it.at("ids").size(1) - N;
  auto reference = tiny_models(25, 0.3).value_model;
  auto value_loss = [&] {
    auto hidden = reference->hidden_states(it.at("ids"), positions_from_mask(it.at("mask")), it.at("mask"));
    auto values = reference->scores(hidden.slice(1, P - 1, P + N - 1));
    return ppo_value_loss(values, it.at("values"), it.at("returns"), it.at("response_mask"), o.cliprange_value).loss;
  };
  value_loss().backward();
  double norm = 0;
  for (auto& p : reference->parameters()) norm += p.grad().pow(2).sum().item<double>();
  norm = std::sqrt(norm);
  const double max_grad_norm = 0.5 * norm;

  seen.clear();
  auto trained = run(max_grad_norm, &seen);
  EXPECT_TRUE(torch::equal(seen.at(0).at("returns"), it.at("returns")));  // the same rollout
  reference = tiny_models(25, 0.3).value_model;
  torch::optim::AdamW adamw(reference->parameters(),
                            torch::optim::AdamWOptions(o.value_learning_rate).eps(1.0).weight_decay(0.0));
  value_loss().backward();
  torch::nn::utils::clip_grad_norm_(reference->parameters(), max_grad_norm);
  adamw.step();
  auto want = reference->named_parameters();
  double largest_step = 0;
  auto before = tiny_models(25, 0.3).value_model->named_parameters();
  for (const auto& p : trained->named_parameters()) {
    EXPECT_TRUE(torch::allclose(p.value(), want[p.key()], 1e-5, 1e-7)) << p.key();
    largest_step = std::max(largest_step, (want[p.key()] - before[p.key()]).abs().max().item<double>());
  }
  EXPECT_GT(largest_step, 1e-5);  // the step moved the weights
}

// ---------------------------------------------------------------------------------------------------------------
// Early stop on approx-KL

// target_approx_kl tiny: the first minibatch (ratio 1, approx-KL 0) trains, the second crosses the threshold and must
// not: one update per iteration. A large target lets every minibatch train.
TEST(PpoDetails, AnEarlyStopOnApproxKlComesBeforeTheStep) {
  single_thread();
  TempDir dir("ppo", "early-stop");
  auto o = tiny_options(dir / "run", 2);
  o.num_mini_batches = 4;
  o.num_ppo_epochs = 2;
  for (double target : {1e-12, 1e6}) {
    o.target_approx_kl = target;
    auto m = tiny_models(26);
    auto r = train_ppo(o, m, random_prompts(126, 16), {}, -1, 0, count_reward);
    EXPECT_EQ(r.policy_updates, target < 1 ? 2 : 2 * 4 * 2) << "target " << target;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// EMA

// One update per iteration (one minibatch, one epoch); the weights after each are recorded when the optimisation phase
// ends. The policy train_ppo leaves behind is e_n, e_0 = w_0, e_k = d·e_(k−1) + (1 − d)·w_k, over the trained weights
// (the adapters with LoRA, whose frozen base is its own average).
void check_ema(bool lora) {
  single_thread();
  TempDir dir("ppo", lora ? "ema-lora" : "ema");
  auto o = tiny_options(dir / "run", 3);
  o.num_mini_batches = 1;
  o.ema_decay = 0.5;
  if (lora) o.train.memory.use_peft = true, o.train.memory.lora_r = 4, o.train.memory.lora_alpha = 8;
  auto m = tiny_models(27, 0.3);
  std::vector<std::vector<torch::Tensor>> weights;  // w_0 .. w_n
  auto snapshot = [&] {
    std::vector<torch::Tensor> w;
    for (auto& p : trainable_parameters(*m.policy)) w.push_back(p.detach().clone());
    weights.push_back(w);
  };
  auto policy = m.policy;
  train_ppo(o, m, random_prompts(127, 16), {}, -1, 0, count_reward, [&](const char* phase, bool begin) {
    if (std::string(phase) == "generation" && begin && weights.empty()) snapshot();
    if (std::string(phase) == "optimisation" && !begin) snapshot();
  });
  ASSERT_EQ(weights.size(), 4u);
  EXPECT_EQ(has_lora(*policy), lora);
  auto ema = weights[0];
  for (size_t k = 1; k < weights.size(); ++k)
    for (size_t i = 0; i < ema.size(); ++i) ema[i] = o.ema_decay * ema[i] + (1 - o.ema_decay) * weights[k][i];
  auto saved = trainable_parameters(*policy);
  ASSERT_EQ(saved.size(), ema.size());
  double moved = 0;
  for (size_t i = 0; i < ema.size(); ++i) {
    EXPECT_TRUE(torch::allclose(saved[i], ema[i], 1e-6, 1e-7)) << "parameter " << i;
    moved = std::max(moved, (weights.back()[i] - ema[i]).abs().max().item<double>());
  }
  EXPECT_GT(moved, 1e-4);  // the average is not the last weights
}

TEST(PpoDetails, TheEmaAveragesEveryUpdate) { check_ema(false); }
TEST(PpoDetails, TheEmaAveragesEveryUpdateWithLora) { check_ema(true); }

// ---------------------------------------------------------------------------------------------------------------
// run_ppo on disk: a tiny world (BPE tokenizer, SFT model, reward model with reward_normalization.json, prompts).

struct DiskWorld {
  std::string sft, rm, prompts;
};

DiskWorld make_disk_world(const TempDir& dir, uint64_t seed) {
  const std::vector<std::string> corpus = {"the cat sat on the mat", "a dog ran in the park", "the sun is warm today",
                                           "we like tea and cake", "rain falls on the hill"};
  BpeTrainOptions bpe;
  bpe.eos_token = bpe.pad_token = "<|endoftext|>";
  auto tokenizer = train_bpe(corpus, 300, {"<|endoftext|>"}, bpe);
  DiskWorld w{dir / "sft", dir / "rm", dir / "prompts.jsonl"};
  auto policy = tiny_policy(seed, tokenizer->vocab_size(), 0.3);
  save_model(*policy, w.sft);
  tokenizer->save_pretrained(w.sft);
  save_model(*copy_with_heads(*policy, false, true), w.rm);
  save_reward_offset(w.rm, 0.0);
  std::ofstream f(w.prompts);
  for (const auto& text : corpus)
    for (const char* tail : {"", " and", " today"}) f << R"({"prompt": ")" << text << tail << "\"}\n";
  return w;
}

PpoOptions disk_options(const DiskWorld& w, const std::string& output_dir, int64_t iterations) {
  auto o = tiny_options(output_dir, iterations);
  o.sft_model_path = w.sft;
  o.reward_model_path = w.rm;
  o.dataset = w.prompts;
  o.train.device = "cpu";
  o.train.learning_rate = o.value_learning_rate = 1e-3;
  return o;
}

// The largest difference between two models' weights, leaving out the key bias of attention (the key third of GPT-2's
// fused qkv_bias): a query's scores over all keys shift by the same q·b_k, which softmax ignores, so its gradient is
// zero in exact arithmetic and AdamW turns rounding noise into steps of up to the learning rate (measured here: 8.8e-4
// after 6 steps at lr 1e-3, every other weight within 5e-7).
double largest_difference(const std::string& model_a, const std::string& model_b) {
  auto a = load_model(model_a), b = load_model(model_b);
  const int64_t C = a->config().hidden_size;
  auto named_b = b->named_parameters();
  double largest = 0;
  for (const auto& p : a->named_parameters()) {
    auto difference = (p.value() - named_b[p.key()]).abs();
    if (p.key().size() >= 8 && p.key().compare(p.key().size() - 8, 8, "qkv_bias") == 0)
      difference = torch::cat({difference.slice(0, 0, C), difference.slice(0, 2 * C)});
    largest = std::max(largest, difference.max().item<double>());
  }
  return largest;
}

// The paper initialises the value function from the normalised RM. Normalising shifts every score by the same
// constant; with values shifted by it too, every TD error, advantage and loss is unchanged: two runs whose reward
// models differ only in their offset train the same policy and value model.
TEST(PpoRun, TheRewardModelsOffsetDoesNotChangeTheRun) {
  single_thread();
  TempDir dir("ppo", "offset");
  const auto w = make_disk_world(dir, 31);
  const std::string shifted = dir / "rm-shifted";
  fs::create_directories(shifted);
  for (const char* file : {"config.json", "model.safetensors"}) fs::copy_file(w.rm + "/" + file, shifted + "/" + file);
  save_reward_offset(shifted, 3.0);
  auto plain = run_ppo(disk_options(w, dir / "plain", 3));
  auto o = disk_options(w, dir / "shifted", 3);
  o.reward_model_path = shifted;
  auto moved = run_ppo(o);
  for (size_t i = 0; i < plain.mean_scores.size(); ++i)
    EXPECT_NEAR(moved.mean_scores[i], plain.mean_scores[i] - 3.0, 1e-4) << "iteration " << i;  // the offset is applied
  const double policy = largest_difference(dir / "plain", dir / "shifted");
  const double value = largest_difference(dir / "plain/value_model", dir / "shifted/value_model");
  std::printf("offset 0 vs 3: policies differ by %.3g, value models by %.3g\n", policy, value);
  EXPECT_LT(policy, 1e-5);
  EXPECT_LT(value, 1e-5);
  EXPECT_GT(largest_difference(w.sft, dir / "plain"), 1e-4);  // and the runs trained
}

// The saved policy is the EMA: after one update, d·w_0 + (1 − d)·w_1, with w_0 the SFT model and w_1 the policy of the
// same run without EMA. With LoRA the average is over the adapters, saved in PEFT's layout in OUTPUT/adapter (B starts
// at zero; A's start w_0 is the adapter a run with learning rate 0 saves).
TEST(PpoRun, TheSavedPolicyIsTheEma) {
  single_thread();
  TempDir dir("ppo", "saved-ema");
  const auto w = make_disk_world(dir, 32);
  constexpr double d = 0.75;
  for (bool lora : {false, true}) {
    const std::string tag = lora ? "lora-" : "";
    auto run = [&](const std::string& name, double decay, double lr) {
      auto o = disk_options(w, dir / (tag + name), 1);
      o.num_mini_batches = 1;
      o.ema_decay = decay;
      o.train.learning_rate = lr;
      if (lora) o.train.memory.use_peft = true, o.train.memory.lora_r = 4, o.train.memory.lora_alpha = 8;
      run_ppo(o);
      return lora ? read_tensors(dir / (tag + name) + "/adapter/adapter_model.safetensors")
                  : read_tensors(dir / (tag + name) + "/model.safetensors");
    };
    auto start = lora ? run("start", 0.0, 0.0) : read_tensors(w.sft + "/model.safetensors");
    auto last = run("last", 0.0, 1e-3), ema = run("ema", d, 1e-3);
    ASSERT_EQ(ema.size(), last.size());
    double moved = 0;
    for (const auto& [name, tensor] : ema) {
      auto want = d * start.at(name) + (1 - d) * last.at(name);
      EXPECT_TRUE(torch::allclose(tensor, want, 1e-5, 1e-7)) << tag << name;
      moved = std::max(moved, (last.at(name) - start.at(name)).abs().max().item<double>());
    }
    EXPECT_GT(moved, 1e-4) << tag;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Defaults (deviation 9)

// `rlhf ppo` follows PPO.md and the paper: PPO-ptx with γ 27.8 and 8 pretraining windows per episode whenever there is
// pretraining text (plain PPO without), a constant learning rate after a warm-up over 10 iterations. The pipeline's
// paper preset does the same and averages the policy (EMA 0.992); the demo keeps its own settings.
TEST(PpoDefaults, FollowThePaper) {
  const PpoOptions o;
  EXPECT_EQ(o.ptx_coef, 27.8);
  EXPECT_EQ(o.ptx_ratio, 8);
  for (int64_t i : {0, 4, 9, 10, 11, 500})
    EXPECT_DOUBLE_EQ(scheduled_learning_rate(o.train, 1.0, i, 1000), std::min(1.0, static_cast<double>(i + 1) / 10.0))
        << "iteration " << i;
  pipeline::PipelineConfig paper, demo;
  paper.preset = "paper";
  pipeline::apply_preset(paper);
  pipeline::apply_preset(demo);
  EXPECT_EQ(paper.ppo.ptx_coef, 27.8);
  EXPECT_EQ(paper.ppo.ptx_ratio, 8);
  EXPECT_EQ(paper.ppo.ema_decay, 0.992);
  EXPECT_EQ(paper.ppo.train.warmup_steps, 10);
  EXPECT_EQ(demo.ppo.ptx_coef, 0.3);
  EXPECT_EQ(demo.ppo.ptx_ratio, 1);
  EXPECT_EQ(demo.ppo.ema_decay, 0.0);
  EXPECT_EQ(demo.ppo.train.warmup_steps, 0);

  // The default γ without pretraining windows is plain PPO, not an error.
  single_thread();
  TempDir dir("ppo", "defaults");
  auto options = tiny_options(dir / "run", 1);
  options.ptx_coef = o.ptx_coef;
  auto m = tiny_models(28);
  auto r = train_ppo(options, m, random_prompts(128, 16), {}, -1, 0, count_reward);
  EXPECT_EQ(r.ptx_losses, std::vector<double>{0.0});
}

// ---------------------------------------------------------------------------------------------------------------
// TRL's batch sizes (train/ppo.h's resolve_ppo_batch_sizes): a minibatch of per_device_train_batch_size ×
// gradient_accumulation_steps episodes runs in micro-batches of per_device_train_batch_size, each weighted by its share
// of the minibatch's tokens, so the weights after two iterations (two PPO epochs of two minibatches each) are those of
// one forward over the whole minibatch, up to rounding.
TEST(PpoDetails, MicroBatchesGiveTheWholeMinibatchsUpdate) {
  single_thread();
  TempDir dir("ppo", "micro-batches");
  std::vector<std::map<std::string, torch::Tensor>> finals;
  for (int64_t micro : {8, 2}) {
    auto o = tiny_options(dir / ("run-" + std::to_string(micro)), 2, 16);
    o.num_ppo_epochs = 2;
    o.rollout_batch_size = 0;  // from TRL's sizes: micro x (8 / micro) x 2 = 16 episodes per iteration
    o.train.per_device_train_batch_size = micro;
    o.train.gradient_accumulation_steps = 8 / micro;
    o.response_length = 24;  // with EOS = 3, responses of many lengths: micro-batches hold different token counts
    auto m = tiny_models(31);
    auto r = train_ppo(o, m, random_prompts(131, 16), {}, 3, 0, count_reward);
    EXPECT_EQ(r.policy_updates, 2 * 2 * 2);
    std::map<std::string, torch::Tensor> weights;
    for (const auto& p : m.policy->named_parameters()) weights["policy." + p.key()] = p.value().detach().clone();
    for (const auto& p : m.value_model->named_parameters()) weights["value." + p.key()] = p.value().detach().clone();
    finals.push_back(weights);
  }
  double worst = 0;
  for (const auto& [name, whole] : finals[0]) worst = std::max(worst, (whole - finals[1].at(name)).abs().max().item<double>());
  EXPECT_LT(worst, 1e-5);
  std::printf("micro-batches of 2 vs one forward of 8: weights within %.3g\n", worst);
}

}  // namespace
}  // namespace rlhf
