#include "train/ppo.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "common/error.h"
#include "model/generate.h"
#include "model/logprobs.h"
#include "train/distributed.h"
#include "train/losses.h"
#include "train/memory.h"

namespace rlhf {

void bind_ppo_options(Options& o, PpoOptions& p) {
  bind_training_options(o, p.train);
  o.add("sft_model_path", &p.sft_model_path, "SFT model: the policy's start and the frozen reference");
  o.add("model_name_or_path", &p.model_name_or_path,
        "TRL's: the tokenizer, and the policy when sft_model_path is not given");
  o.add("reward_model_path", &p.reward_model_path, "reward model directory");
  o.add("value_model_path", &p.value_model_path, "value model initialisation (default: the reward model)");
  o.add("tokenizer", &p.tokenizer, "tokenizer path (default: the SFT model directory)");
  o.add("dataset", &p.dataset, "prompts JSONL {\"prompt\"} (a folder: as dataset_name)");
  o.add("ptx_dataset", &p.ptx_dataset, "pretraining text JSONL {\"text\"} for PPO-ptx");
  o.add("prompt_format", &p.prompt_format, "plain | hh | chatml | llama3 | zephyr | chat");
  o.add("total_episodes", &p.total_episodes, "episodes in all (0: num_train_epochs passes over the prompts)");
  o.add("rollout_batch_size", &p.rollout_batch_size,
        "episodes per PPO iteration and rank (0: per_device_train_batch_size x gradient_accumulation_steps x "
        "num_mini_batches as TRL, else 64)");
  o.add("generation_batch_size", &p.generation_batch_size,
        "episodes per generate call (0: the rollout batch); sampling is seeded per call from its first episode");
  o.add("num_mini_batches", &p.num_mini_batches, "minibatches per rollout batch");
  o.add("num_ppo_epochs", &p.num_ppo_epochs, "passes over each rollout batch");
  o.add("response_length", &p.response_length, "most tokens per response");
  o.add("temperature", &p.temperature, "sampling temperature (log-probs are taken at it too)");
  o.add("rollout_logprobs", &p.rollout_logprobs,
        "old-policy log-probs: recompute (one more forward) | sampling (the sampling steps' own, as TRL)");
  o.add("kl_coef", &p.kl_coef, "β, the per-token KL penalty (initial value when adaptive)");
  o.add("kl_estimator", &p.kl_estimator, "k1 | k3");
  o.add("kl_target", &p.kl_target, "> 0: adaptive β towards this KL per response (Ziegler et al. 2019)");
  o.add("kl_horizon", &p.kl_horizon, "adaptive KL horizon in episodes");
  o.add("cliprange", &p.cliprange, "policy ratio clip ε");
  o.add("cliprange_value", &p.cliprange_value, "value clip ε_v");
  o.add("gamma", &p.gamma, "GAE discount");
  o.add("lam", &p.lam, "GAE λ");
  o.add("advantage_estimator", &p.advantage_estimator,
        "gae (value model, the paper) | rloo (leave-one-out baseline over n_samples_per_prompt; no value model)");
  o.add("n_samples_per_prompt", &p.n_samples_per_prompt, "responses sampled per prompt in each rollout batch");
  o.add("whiten_rewards", &p.whiten_rewards, "whiten per-token rewards over the rollout batch");
  o.add("missing_eos_penalty", &p.missing_eos_penalty, "subtracted from the score of responses without EOS");
  o.add("reward_clip", &p.reward_clip, "> 0: clip scores to ±reward_clip");
  o.add("target_approx_kl", &p.target_approx_kl,
        "> 0: stop an iteration's PPO epochs, before stepping, at a minibatch whose approx-KL exceeds 1.5x this");
  o.add("value_learning_rate", &p.value_learning_rate, "value model learning rate");
  o.add("freezing_actor_steps", &p.freezing_actor_steps,
        "first iterations that train the value model only (the policy's log-probs are still logged)");
  o.add("ptx_coef", &p.ptx_coef, "γ of PPO-ptx (the paper's 27.8), used with --ptx_dataset; 0 = plain PPO");
  o.add("ptx_ratio", &p.ptx_ratio, "pretraining sequences per RL episode (the paper's 8)");
  o.add("ptx_max_length", &p.ptx_max_length, "pretraining window length");
  o.add("ptx_packing", &p.ptx_packing,
        "wrapped (texts end to end) | bfd (each text apart, attending only to itself), as pretraining packed them");
  o.add("ema_decay", &p.ema_decay, "> 0: save an EMA of the policy weights");
  o.add("save_rollouts", &p.save_rollouts, "write each iteration's rollouts to OUTPUT/rollouts/ (safetensors)");
  o.add("quiet", &p.quiet, "no progress bar");
  bind_trl_ppo_names(o);
}

namespace {

struct Rollout {
  torch::Tensor ids, mask;                      // [B, P + N] prompt (left-padded) + response
  torch::Tensor response_ids, response_mask;    // [B, N]
  torch::Tensor sampling_logprobs;              // [B, N] the sampling steps' own
  torch::Tensor logprobs, ref_logprobs, values; // [B, N]
  torch::Tensor scores;                         // [B]
  torch::Tensor advantages, returns;            // [B, N]
  torch::Tensor rewards;                        // [B, N] per token: −β·KL, plus the final score on the last token
  torch::Tensor ended_with_eos;                 // [B]
  double beta = 0, mean_kl = 0, mean_score = 0; // β at scoring; the means over all ranks' episodes
  int64_t prompt_length = 0;
  std::vector<int64_t> prompt_indices;          // [B] each episode's prompt (index into train_ppo's prompts)
};

// log π(y_t | x, y_<t) at temperature T for every response position, from one forward over prompt + response.
// V_t is read from the same positions (the state before response token t), so one helper serves both.
torch::Tensor response_hidden(TransformerImpl& model, const Rollout& r, const torch::Tensor& rows) {
  auto ids = r.ids.index_select(0, rows), mask = r.mask.index_select(0, rows);
  auto hidden = model.hidden_states(ids, positions_from_mask(mask), mask);  // [b, P + N, C]
  const int64_t P = r.prompt_length, N = r.response_ids.size(1);
  return hidden.slice(1, P - 1, P + N - 1);  // [b, N, C]
}

TokenLogprobs response_logprobs(TransformerImpl& model, const Rollout& r, const torch::Tensor& rows, double temperature,
                                bool with_entropy) {
  auto h = response_hidden(model, r, rows);
  const int64_t b = h.size(0), N = h.size(1);
  auto targets = r.response_ids.index_select(0, rows).reshape({b * N});
  auto out = linear_logprobs(h.reshape({b * N, h.size(2)}), model.unembedding(), targets, temperature, with_entropy);
  out.logprobs = out.logprobs.view({b, N});
  if (with_entropy) out.entropy = out.entropy.view({b, N});
  return out;
}

// V_t less the value model's offset (the normalised RM's read-out, PpoModels::value_offset).
torch::Tensor response_values(TransformerImpl& value_model, const Rollout& r, const torch::Tensor& rows, double offset) {
  return value_model.scores(response_hidden(value_model, r, rows)).to(torch::kFloat32) - offset;  // [b, N]
}

double mean_of(const torch::Tensor& t) { return t.to(torch::kFloat64).mean().item<double>(); }

// masked_whiten over every rank's rollouts (the statistics of the global batch, as one process with all of them would
// compute): the mean from summed sums and counts, then the unbiased variance from summed squared deviations.
torch::Tensor whiten_across_ranks(DataParallel& dp, const torch::Tensor& x, const torch::Tensor& mask, bool shift_mean) {
  if (!dp.active()) return masked_whiten(x, mask, shift_mean);
  auto m = mask.to(x.scalar_type());
  const auto totals = dp.sum({(x * m).sum().item<double>(), m.sum().item<double>()});
  const double count = std::max(1.0, totals[1]), mean = totals[0] / count;
  const double squares = dp.sum({((x - mean).pow(2) * m).sum().item<double>()})[0];
  const double variance = squares / std::max(1.0, count - 1);
  auto whitened = (x - mean) * (1.0 / std::sqrt(variance + 1e-8));
  if (!shift_mean) whitened = whitened + mean;
  return whitened * m;
}

// The seed of the generate call whose first episode is `episode`: samples depend on the episodes, not on how they are
// split over calls and ranks.
uint64_t episode_seed(int64_t seed, int64_t episode) {
  return static_cast<uint64_t>(seed) * 1000003ull + static_cast<uint64_t>(episode) * 7919ull;
}

// Several generate calls over the rows of one left-padded prompt batch [B, P], as one: responses padded to the longest.
GenerationOutput concatenate_generations(const std::vector<GenerationOutput>& parts, const torch::Tensor& prompt_ids,
                                         int64_t pad_id) {
  if (parts.size() == 1) return parts.front();
  int64_t N = 0;
  for (const auto& p : parts) N = std::max<int64_t>(N, p.response_ids.size(1));
  std::vector<torch::Tensor> ids, logprobs, masks;
  for (const auto& p : parts) {
    const int64_t missing = N - p.response_ids.size(1);
    ids.push_back(torch::constant_pad_nd(p.response_ids, {0, missing}, static_cast<double>(pad_id)));
    logprobs.push_back(torch::constant_pad_nd(p.response_logprobs, {0, missing}, 0.0));
    masks.push_back(torch::constant_pad_nd(p.response_mask, {0, missing}, 0.0));
  }
  GenerationOutput out;
  out.response_ids = torch::cat(ids), out.response_logprobs = torch::cat(logprobs), out.response_mask = torch::cat(masks);
  out.sequences = torch::cat({prompt_ids, out.response_ids}, 1);
  return out;
}

// The EMA of the policy's weights as a module, so that checkpoints carry it and a resumed run keeps averaging the same
// weights. It registers the tensors themselves: loading a checkpoint into it fills them in place.
struct EmaWeights : torch::nn::Module {
  explicit EmaWeights(std::vector<torch::Tensor>& weights) {
    for (size_t k = 0; k < weights.size(); ++k) register_parameter(std::to_string(k), weights[k], false);
  }
};

// PPO iterations in all: total_episodes (else num_train_epochs passes over the prompts) in rollout batches of every rank.
int64_t ppo_iterations(const PpoOptions& o, size_t prompts, int64_t ranks) {
  const int64_t episodes = o.total_episodes > 0 ? o.total_episodes
                                                : static_cast<int64_t>(prompts) * std::max<int64_t>(1, o.train.num_train_epochs);
  return std::max<int64_t>(1, episodes / (o.rollout_batch_size * ranks));
}

// What the PPO epochs of one iteration keep for its log: this rank's token means, each scaled by its share of all
// ranks' tokens (summed over ranks and divided by the updates when logged), and the first minibatch before any update.
struct Optimisation {
  double policy_loss = 0, value_loss = 0, clip = 0, value_clip = 0, approx_kl = 0, entropy = 0, ptx = 0, ratio = 0;
  std::vector<double> minibatch_ratios;      // each update's scaled mean π/π_old (TRL's val/ratio_var is their variance)
  int64_t updates = 0;
  std::vector<int64_t> ptx_used;             // indices of the pretraining windows, minibatch after minibatch
  torch::Tensor first_rows, first_logprobs;  // the first minibatch and its training-time log-probs
  double sampling_gap = 0, sampling_kl = 0;  // sampling vs training log-probs of the first minibatch's tokens
};

// One train_ppo run. What lasts from one iteration to the next (models, optimizers, data-parallel groups, the sampling
// generator, β, the ptx cursor, the EMA, the StepLoop) lives here, so that each step of an iteration (PPO.md's order:
// collect rollouts, score them, optimise on them, then log and checkpoint) is a function that reads on its own.
struct PpoRun {
  const PpoOptions& o;
  const TrainingOptions& t;
  PpoModels& m;
  const std::vector<std::vector<int64_t>>& prompts;
  const std::vector<Sequence>& ptx_windows;
  const int64_t eos_id, pad_id;
  const RewardFunction& reward_function;
  const PhaseObserver& observe;
  const RolloutObserver& observe_rollout;
  const bool with_ptx;  // else plain PPO
  const torch::Device device;
  // Data parallel: each rank generates its own rollout_batch_size episodes (episodes [(i·N + r)·B, (i·N + r + 1)·B) of
  // iteration i); gradients are averaged, whitening and logged statistics are global.
  std::unique_ptr<DataParallel> own_group;  // when the caller has not set one up (a group of one process, mostly)
  DataParallel &dp, dp_value;
  const int64_t ranks, rank, B, minibatch, iterations, max_prompt;
  std::unique_ptr<torch::optim::AdamW> policy_optimizer, value_optimizer;
  at::Generator generator;  // the device's kind: sampling happens there
  AdaptiveKlController kl_controller;
  std::vector<torch::Tensor> ema;
  std::optional<EmaWeights> ema_module;
  std::optional<StepLoop> loop;
  int64_t ptx_cursor = 0;
  PpoResult result;

  PpoRun(const PpoOptions& o, PpoModels& m, const std::vector<std::vector<int64_t>>& prompts,
         const std::vector<Sequence>& ptx_windows, int64_t eos_id, int64_t pad_id, const RewardFunction& reward_function,
         const PhaseObserver& observe, const RolloutObserver& observe_rollout, DataParallel* group)
      : o(o), t(o.train), m(m), prompts(prompts), ptx_windows(ptx_windows), eos_id(eos_id), pad_id(pad_id),
        reward_function(reward_function), observe(observe), observe_rollout(observe_rollout),
        with_ptx(o.ptx_coef > 0 && o.ptx_ratio > 0 && !ptx_windows.empty()),
        device(m.policy->embed_tokens.device()),
        own_group(group ? nullptr : std::make_unique<DataParallel>(t, "ppo")), dp(group ? *group : *own_group), dp_value(dp), ranks(dp.world_size()), rank(dp.rank()),
        B(o.rollout_batch_size), minibatch(B / o.num_mini_batches), iterations(ppo_iterations(o, prompts.size(), ranks)),
        max_prompt(std::max<int64_t>(1, t.max_length - o.response_length)),
        generator(seeded_generator(device, static_cast<uint64_t>(t.seed))),
        kl_controller{o.kl_coef, o.kl_target, o.kl_horizon} {
    // Memory features (train/memory.h). With use_peft the policy and value model train adapters over frozen bases, and
    // a reference that is the policy object itself (run_ppo shares them) is that base with adapters disabled; likewise
    // a reward model that is the value model. Frozen models are held in the frozen dtype.
    // PPO runs without dropout (TRL's disable_dropout): before any update the new/old log-prob ratio must be exactly 1.
    MemoryOptions memory = t.memory;
    memory.lora_dropout = 0;
    if (!has_lora(*m.policy)) prepare_trained_model(*m.policy, memory, t.dtype, false, o.sft_model_path);
    if (!has_lora(*m.value_model))
      prepare_trained_model(*m.value_model, memory, t.dtype, true,
                            o.value_model_path.empty() ? o.reward_model_path : o.value_model_path);
    for (auto* frozen : {m.reference.get(), m.reward_model ? m.reward_model.get() : nullptr}) {
      if (!frozen || frozen == m.policy.get() || frozen == m.value_model.get()) continue;
      prepare_frozen_model(*frozen, t.memory, t.dtype);
    }
    m.policy->train(), m.value_model->train();
    policy_optimizer = make_adamw(trainable_parameters(*m.policy), t, t.learning_rate);
    value_optimizer = make_adamw(trainable_parameters(*m.value_model), t, o.value_learning_rate);
    if (o.ema_decay > 0)  // trained weights only: a frozen base is its own average
      for (auto& p : trainable_parameters(*m.policy)) ema.push_back(p.detach().clone());

    ema_module.emplace(ema);
    Checkpointable what{{{"policy", m.policy.get()}, {"value", m.value_model.get()}},
                        {{"policy_optimizer", policy_optimizer.get()}, {"value_optimizer", value_optimizer.get()}},
                        {{"sampling", &generator}},
                        // Each checkpoint is also the policy's model directory (the weights being trained; with
                        // --ema_decay the final model is their average) and the value model's under value_model/.
                        {{"", m.policy.get(), !o.tokenizer.empty() ? o.tokenizer : o.sft_model_path, {}},
                         {"value_model", m.value_model.get(), "", m.value_offset}}};
    if (!ema.empty()) what.modules.emplace_back("ema", &*ema_module);
    loop.emplace(t, dp, with_ptx ? "ppo-ptx" : "ppo", iterations, o.quiet, what,
                 std::vector<std::string>{"ptx_cursor", "kl_coef"});
    ptx_cursor = loop->resumed_state().value("ptx_cursor", int64_t{0});
    kl_controller.value = loop->resumed_state().value("kl_coef", kl_controller.value);
    dp.attach(trainable_parameters(*m.policy), *policy_optimizer);
    dp_value.attach(trainable_parameters(*m.value_model), *value_optimizer);
    if (!ema.empty() && !loop->resumed()) {  // the EMA starts from the broadcast weights
      torch::NoGradGuard no_grad;
      auto params = trainable_parameters(*m.policy);  // with LoRA: the adapters, as the EMA holds
      for (size_t k = 0; k < params.size(); ++k) ema[k].copy_(params[k]);
    }
  }

  void phase(const char* name, bool begin) const {
    if (observe) observe(name, begin);
  }

  // 1. Rollouts: prompts in a seeded per-epoch order, B episodes (this rank's: episodes [(i·N + r)·B, (i·N + r + 1)·B)
  // of iteration i), each a response the policy samples.
  Rollout collect_rollouts(int64_t iteration) {
    Rollout r;
    std::vector<const std::vector<int64_t>*> batch_prompts;
    const int64_t first_episode = (iteration * ranks + rank) * B;
    for (int64_t e = first_episode; e < first_episode + B; ++e) {
      // n_samples_per_prompt consecutive episodes share a prompt (a rank's B is a multiple of it).
      const int64_t n = static_cast<int64_t>(prompts.size()), q = e / o.n_samples_per_prompt;
      const auto order = epoch_order(prompts.size(), t.seed, q / n);
      batch_prompts.push_back(&prompts[order[static_cast<size_t>(q % n)]]);
      r.prompt_indices.push_back(static_cast<int64_t>(order[static_cast<size_t>(q % n)]));
    }
    std::vector<std::vector<int64_t>> tails;  // over-long prompts keep their end (the instruction's tail)
    for (const auto* p : batch_prompts)
      tails.emplace_back(p->end() - std::min<int64_t>(max_prompt, static_cast<int64_t>(p->size())), p->end());
    std::vector<const std::vector<int64_t>*> rows;
    for (const auto& tail : tails) rows.push_back(&tail);
    const LeftPadded padded = left_pad(rows, pad_id);
    const auto prompt_ids = padded.ids.to(device), prompt_mask = padded.mask.to(device);
    GenerationOptions g;
    g.max_new_tokens = o.response_length;
    g.temperature = o.temperature;
    g.eos_token_id = eos_id;
    g.pad_token_id = pad_id;
    m.policy->eval();
    phase("generation", true);
    const int64_t chunk = o.generation_batch_size > 0 ? std::min(o.generation_batch_size, B) : B;
    std::vector<GenerationOutput> parts;
    for (int64_t start = 0; start < B; start += chunk) {
      // Each call's samples are reproducible from (seed, its first episode) alone: a resumed run, another split over
      // ranks or calls, draw the same.
      generator.set_current_seed(episode_seed(t.seed, first_episode + start));
      const int64_t end = std::min(B, start + chunk);
      parts.push_back(generate(*m.policy, prompt_ids.slice(0, start, end), prompt_mask.slice(0, start, end), g, generator));
    }
    auto generated = concatenate_generations(parts, prompt_ids, pad_id);
    parts.clear();
    phase("generation", false);
    m.policy->train();
    r.prompt_length = padded.ids.size(1);
    r.response_ids = generated.response_ids;
    r.response_mask = generated.response_mask;
    r.sampling_logprobs = generated.response_logprobs.to(torch::kFloat32);
    r.ids = generated.sequences;
    r.mask = torch::cat({prompt_mask, r.response_mask}, 1);
    result.tokens_generated += r.response_mask.sum().item<int64_t>();
    result.tokens_scored += prompt_mask.sum().item<int64_t>();  // the prompt's forward before the first sample
    return r;
  }

  // 2. Scoring (no gradients): old policy and reference log-probs, values and the RM's score; then the per-token
  // rewards (−β·KL on every token, the score on the last), GAE and whitening (PPO.md).
  void score(Rollout& r) {
    auto all_rows = torch::arange(B, torch::TensorOptions().dtype(torch::kLong).device(device));
    auto response_mask_f = r.response_mask.to(torch::kFloat32);
    phase("scoring", true);
    {
      torch::NoGradGuard no_grad;
      r.logprobs = o.rollout_logprobs == "sampling" ? r.sampling_logprobs
                                                    : response_logprobs(*m.policy, r, all_rows, o.temperature, false).logprobs;
      {
        LoraDisabled base(*m.reference);  // the reference is the frozen base when it is the policy itself
        r.ref_logprobs = response_logprobs(*m.reference, r, all_rows, o.temperature, false).logprobs;
      }
      const bool critic = o.trains_value_model();
      r.values = critic ? response_values(*m.value_model, r, all_rows, m.value_offset) : torch::zeros_like(r.logprobs);
      if (reward_function) {
        r.scores = reward_function(r.prompt_indices, r.response_ids, r.response_mask).to(device, torch::kFloat32);
      } else {
        LoraDisabled base(*m.reward_model);  // the reward model's own head and weights when it is the value model
        r.scores = score_at_last_token(*m.reward_model, r.ids, r.mask).to(torch::kFloat32) - m.reward_offset;
      }
      // Forwards over prompt + response: reference, reward model, old policy (recompute) and value model (GAE).
      const int64_t forwards = 2 + (o.rollout_logprobs == "sampling" ? 0 : 1) + (critic ? 1 : 0);
      result.tokens_scored += forwards * r.mask.sum().item<int64_t>();
    }
    phase("scoring", false);
    r.ended_with_eos = (eos_id >= 0) ? ((r.response_ids == eos_id) & r.response_mask.to(torch::kBool)).any(1)
                                     : torch::zeros({B}, torch::TensorOptions().dtype(torch::kBool).device(device));
    auto scores = r.scores.clone();
    if (o.missing_eos_penalty != 0) scores = scores - o.missing_eos_penalty * r.ended_with_eos.logical_not().to(torch::kFloat32);
    if (o.reward_clip > 0) scores = scores.clamp(-o.reward_clip, o.reward_clip);

    r.beta = kl_controller.value;
    auto kl = kl_estimate(r.logprobs, r.ref_logprobs, o.kl_estimator) * response_mask_f;
    const bool rloo = !o.trains_value_model();
    if (rloo) {  // the leave-one-out baseline: the mean score of the prompt's other responses
      auto group = scores.view({-1, o.n_samples_per_prompt});
      const double k = static_cast<double>(o.n_samples_per_prompt);
      scores = (group - (group.sum(1, true) - group) / (k - 1)).reshape({-1});
    }
    r.rewards = per_token_rewards(scores, kl, response_mask_f, r.beta);
    if (o.whiten_rewards) r.rewards = whiten_across_ranks(dp, r.rewards, response_mask_f, false);
    // RLOO: values 0 and λ = 1, so a token's advantage is the rewards summed from it to the end (γ as set).
    auto gae = generalized_advantages(r.rewards, r.values, response_mask_f, o.gamma, rloo ? 1.0 : o.lam);
    r.returns = gae.returns;
    r.advantages = whiten_across_ranks(dp, gae.advantages, response_mask_f, true);
    r.mean_kl = mean_of(kl.sum(1));
    r.mean_score = mean_of(r.scores);
    if (dp.active()) {  // means over all ranks' episodes (the adaptive β must move the same way everywhere)
      const auto global = dp.sum({kl.sum(1).to(torch::kFloat64).sum().item<double>(),
                                  r.scores.to(torch::kFloat64).sum().item<double>()});
      r.mean_kl = global[0] / static_cast<double>(B * ranks), r.mean_score = global[1] / static_cast<double>(B * ranks);
    }
  }

  // 3. PPO epochs over minibatches; ptx batches ride along with each policy step. The value model takes its own step
  // after the policy's on the same minibatch.
  Optimisation optimise(const Rollout& r, int64_t iteration) {
    Optimisation s;
    auto response_mask_f = r.response_mask.to(torch::kFloat32);
    // TRL's gradient accumulation: a minibatch's forwards and backwards run per_device_train_batch_size episodes at a
    // time (what bounds the activations' memory), one optimizer step after them.
    const int64_t micro = std::clamp<int64_t>(t.per_device_train_batch_size, 1, minibatch);
    bool stop_early = false;
    const bool actor_frozen = iteration < o.freezing_actor_steps;  // the value model learns alone (PpoOptions)
    phase("optimisation", true);
    for (int64_t epoch = 0; epoch < o.num_ppo_epochs && !stop_early; ++epoch) {
      auto permutation = torch::randperm(B, generator, torch::TensorOptions().dtype(torch::kLong).device(device));
      for (int64_t mb = 0; mb < o.num_mini_batches; ++mb) {
        auto rows = permutation.slice(0, mb * minibatch, (mb + 1) * minibatch);
        // The losses are token means over every rank's tokens (as SFT's and the RM's): each micro-batch's mean is
        // weighted by its tokens · N / all ranks' tokens, so that the averaged, accumulated gradient is the global
        // mean's however the minibatch is split.
        const double all_tokens = dp.sum({response_mask_f.index_select(0, rows).sum().item<double>()})[0];
        const double per_token = all_tokens > 0 ? static_cast<double>(ranks) / all_tokens : 0.0;
        std::vector<torch::Tensor> chunks;
        std::vector<double> weights;
        double policy_sum = 0, clip = 0, approx_kl = 0, entropy = 0, ratio = 0;
        std::vector<double> stats(static_cast<size_t>(2 + ranks), 0.0);  // sampling vs training, first minibatch
        std::vector<torch::Tensor> first_logprobs;
        for (int64_t start = 0; start < minibatch; start += micro) {
          auto chunk = rows.slice(0, start, std::min(minibatch, start + micro));
          auto mask = response_mask_f.index_select(0, chunk);
          const double weight = mask.sum().item<double>() * per_token;
          chunks.push_back(chunk), weights.push_back(weight);
          auto lp = response_logprobs(*m.policy, r, chunk, o.temperature, true);
          if (epoch == 0 && mb == 0) {
            // Sampling-time vs training-time log-probs of the same tokens, before any update (one model and its
            // kernels: rounding only). Max |Δ| over all ranks' tokens, and the token mean of k3 = (ρ − 1) − log ρ with
            // ρ = π_training / π_sampling, an estimate of KL(π_sampling ‖ π_training) from tokens π_sampling drew.
            first_logprobs.push_back(lp.logprobs.detach().to(torch::kFloat32));
            auto delta = ((first_logprobs.back() - r.sampling_logprobs.index_select(0, chunk)) * mask).to(torch::kFloat64);
            stats[0] += (torch::expm1(delta) - delta).sum().item<double>();  // 0 where masked
            stats[1] += mask.sum().item<double>();
            auto& gap = stats[static_cast<size_t>(2 + rank)];  // a max over ranks from a sum
            gap = std::max(gap, delta.abs().max().item<double>());
          }
          auto policy_loss = ppo_policy_loss(lp.logprobs, r.logprobs.index_select(0, chunk),
                                             r.advantages.index_select(0, chunk), mask, o.cliprange);
          if (!actor_frozen) (policy_loss.loss * weight).backward();
          policy_sum += weight * policy_loss.loss.item<double>();
          clip += weight * policy_loss.clip_fraction.item<double>();
          approx_kl += weight * policy_loss.approx_kl.item<double>();
          entropy += weight * masked_mean(lp.entropy, mask).item<double>();
          ratio += weight * masked_mean((lp.logprobs.detach() - r.logprobs.index_select(0, chunk)).exp(), mask)
                                .item<double>();
        }
        if (epoch == 0 && mb == 0) {
          stats = dp.sum(stats);
          s.first_rows = rows, s.first_logprobs = torch::cat(first_logprobs);
          s.sampling_kl = stats[0] / std::max(1.0, stats[1]);
          s.sampling_gap = *std::max_element(stats.begin() + 2, stats.end());
        }
        // The minibatch's approx-KL over all tokens decides an early stop before its step.
        const double step_approx_kl = dp.sum({approx_kl})[0] / static_cast<double>(ranks);
        if (o.target_approx_kl > 0 && step_approx_kl > 1.5 * o.target_approx_kl) {
          policy_optimizer->zero_grad();
          stop_early = true;  // this minibatch is not trained on (nor any after it in this iteration)
          break;
        }
        double ptx_loss = 0, ptx_scale = 0;
        if (with_ptx && !actor_frozen) {
          // γ·(mean per-token NLL of pretraining text), backward after the PPO loss, one optimizer step for both. Each
          // rank its own windows: rank r takes the r-th slice of the next ranks × k, so N ranks read what one
          // process with N times the minibatch would.
          const int64_t k = o.ptx_ratio * minibatch, n = static_cast<int64_t>(ptx_windows.size());
          std::vector<const Sequence*> windows;
          for (int64_t j = 0; j < k; ++j) {
            s.ptx_used.push_back((ptx_cursor + rank * k + j) % n);
            windows.push_back(&ptx_windows[static_cast<size_t>(s.ptx_used.back())]);
          }
          ptx_cursor += ranks * k;
          auto batch = pad_right(windows, pad_id, device);
          auto ptx = language_model_loss(*m.policy, batch);
          ptx_scale = dp.loss_scale((batch.loss_mask.slice(1, 1) * batch.attention.slice(1, 1)).sum().item<double>());
          (o.ptx_coef * ptx_scale * ptx).backward();
          ptx_loss = ptx.item<double>();
          for (const auto* w : windows) result.tokens_trained += static_cast<int64_t>(w->ids.size());
        }
        // The global loss decides a skip (non-finite), the same on every rank.
        const double step_loss = dp.sum({policy_sum + ptx_scale * ptx_loss})[0] / static_cast<double>(ranks);
        if (!actor_frozen) dp.average_gradients();
        const double policy_norm =
            t.max_grad_norm > 0 ? torch::nn::utils::clip_grad_norm_(m.policy->parameters(), t.max_grad_norm) : 0.0;
        if (!actor_frozen && loop->guard().check(step_loss, policy_norm, iteration + 1, t.output_dir))
          dp.optimizer_step();
        policy_optimizer->zero_grad();
        if (!ema.empty() && !actor_frozen) {
          torch::NoGradGuard no_grad;
          auto params = trainable_parameters(*m.policy);
          for (size_t k = 0; k < params.size(); ++k) ema[k].mul_(o.ema_decay).add_(params[k].detach(), 1 - o.ema_decay);
        }

        // The value model's own step: its loss unscaled (no vf_coef, see PpoOptions), clipped at max_grad_norm.
        double value_sum = 0, value_clip = 0;
        for (size_t c = 0; c < chunks.size() && o.trains_value_model(); ++c) {
          auto values = response_values(*m.value_model, r, chunks[c], m.value_offset);
          auto value_loss = ppo_value_loss(values, r.values.index_select(0, chunks[c]),
                                           r.returns.index_select(0, chunks[c]),
                                           response_mask_f.index_select(0, chunks[c]), o.cliprange_value);
          (value_loss.loss * weights[c]).backward();
          value_sum += weights[c] * value_loss.loss.item<double>();
          value_clip += weights[c] * value_loss.clip_fraction.item<double>();
        }
        const double global_value_loss = dp.sum({value_sum})[0];
        if (o.trains_value_model()) {  // the same on every rank: RLOO has no value step, nor its all-reduce
          dp_value.average_gradients();
          const double value_norm = t.max_grad_norm > 0
                                        ? torch::nn::utils::clip_grad_norm_(m.value_model->parameters(), t.max_grad_norm)
                                        : 0.0;
          if (std::isfinite(global_value_loss) && std::isfinite(value_norm)) dp_value.optimizer_step();
          value_optimizer->zero_grad();
        }

        // Logged means: each rank adds its weighted token means, summed over ranks below (÷ N·updates).
        // Prompt and response through forward and backward: the policy's, and the value model's when one trains.
        result.tokens_trained += (o.trains_value_model() ? 2 : 1) * r.mask.index_select(0, rows).sum().item<int64_t>();
        s.policy_loss += policy_sum, s.value_loss += value_sum, s.clip += clip, s.value_clip += value_clip;
        s.approx_kl += approx_kl, s.entropy += entropy, s.ratio += ratio;
        s.minibatch_ratios.push_back(ratio);
        s.ptx += ptx_scale * ptx_loss;
        ++s.updates, ++result.policy_updates;
      }
    }
    phase("optimisation", false);
    return s;
  }

  // 4. After the PPO epochs: the adaptive β's update, the ranks' weight check, the iteration's means over all ranks in
  // the log, the rollout observer and the progress bar, then a checkpoint when one is due (or on an interrupt).
  void finish_iteration(int64_t iteration, const Rollout& r, Optimisation s, double lr) {
    if (o.kl_target > 0) kl_controller.update(r.mean_kl, B * ranks);
    dp.check_parameters(iteration + 1);
    dp_value.check_parameters(iteration + 1);

    double u = static_cast<double>(std::max<int64_t>(1, s.updates));
    double response_length = mean_of(r.response_mask.to(torch::kFloat32).sum(1));
    double eos_fraction = mean_of(r.ended_with_eos.to(torch::kFloat32));
    double eos_tokens = r.ended_with_eos.to(torch::kFloat64).sum().item<double>();  // a response's one EOS
    // TRL's objective/entropy: the mean over responses of −Σ_t log π_old(y_t), the sampled tokens' surprise.
    double sampled_entropy = mean_of((-r.logprobs * r.response_mask.to(r.logprobs.scalar_type())).sum(1));
    bool any_rank_interrupted = false;
    if (dp.active()) {  // logged token means over all ranks (each rank made the same updates), and any interrupt
      auto sums = dp.sum({s.policy_loss, s.value_loss, s.clip, s.approx_kl, s.entropy, s.ptx, s.value_clip,
                          response_length, eos_fraction, interrupt_requested() ? 1.0 : 0.0, s.ratio, eos_tokens,
                          sampled_entropy});
      s.policy_loss = sums[0], s.value_loss = sums[1], s.clip = sums[2], s.approx_kl = sums[3];
      s.entropy = sums[4], s.ptx = sums[5], s.value_clip = sums[6];
      u *= static_cast<double>(ranks);
      response_length = sums[7] / static_cast<double>(ranks), eos_fraction = sums[8] / static_cast<double>(ranks);
      any_rank_interrupted = sums[9] > 0;
      s.ratio = sums[10], eos_tokens = sums[11], sampled_entropy = sums[12] / static_cast<double>(ranks);
      s.minibatch_ratios = dp.sum(s.minibatch_ratios);
      for (auto& ratio : s.minibatch_ratios) ratio /= static_cast<double>(ranks);
    }
    double ratio_variance = 0;  // unbiased, over the updates' mean ratios (torch's var())
    if (s.minibatch_ratios.size() > 1) {
      double mean = 0;
      for (double ratio : s.minibatch_ratios) mean += ratio;
      mean /= static_cast<double>(s.minibatch_ratios.size());
      for (double ratio : s.minibatch_ratios) ratio_variance += (ratio - mean) * (ratio - mean);
      ratio_variance /= static_cast<double>(s.minibatch_ratios.size() - 1);
    }
    result.mean_scores.push_back(r.mean_score);
    result.mean_kl.push_back(r.mean_kl);
    result.ptx_losses.push_back(s.ptx / u);
    result.kl_coefs.push_back(r.beta);
    result.sampling_logprob_max_gaps.push_back(s.sampling_gap);
    result.sampling_logprob_kls.push_back(s.sampling_kl);
    // TRL's PPOTrainer names first (objective/*, policy/*_avg, loss/*_avg, val/*, lr, episode), then ours.
    const Scalars scalars = {{"objective/kl", r.mean_kl},
                             {"objective/entropy", sampled_entropy},
                             {"objective/non_score_reward", -r.beta * r.mean_kl},
                             {"objective/rlhf_reward", r.mean_score - r.beta * r.mean_kl},
                             {"objective/scores", r.mean_score},
                             {"policy/approxkl_avg", s.approx_kl / u},
                             {"policy/clipfrac_avg", s.clip / u},
                             {"loss/policy_avg", s.policy_loss / u},
                             {"loss/value_avg", s.value_loss / u},
                             {"val/clipfrac_avg", s.value_clip / u},
                             {"policy/entropy_avg", s.entropy / u},
                             {"val/ratio", s.ratio / u},
                             {"val/ratio_var", ratio_variance},
                             {"val/num_eos_tokens", eos_tokens},
                             {"lr", lr},
                             {"episode", static_cast<double>((iteration + 1) * B * ranks)},
                             {"objective/kl_coef", r.beta},
                             {"loss/ptx", s.ptx / u},
                             {"response_length", response_length},
                             {"eos_fraction", eos_fraction},
                             {"logprobs/sampling_vs_training_max_abs", s.sampling_gap},
                             {"logprobs/sampling_vs_training_kl", s.sampling_kl},
                             {"skipped_steps", static_cast<double>(loop->guard().skipped())}};  // policy updates skipped
    loop->log(iteration + 1, scalars);
    if (observe_rollout) {
      RolloutTensors tensors = {{"ids", r.ids}, {"mask", r.mask}, {"scores", r.scores}, {"response_ids", r.response_ids},
                                {"response_mask", r.response_mask}, {"sampling_logprobs", r.sampling_logprobs},
                                {"logprobs", r.logprobs}, {"ref_logprobs", r.ref_logprobs}, {"values", r.values},
                                {"rewards", r.rewards}, {"advantages", r.advantages}, {"returns", r.returns},
                                {"first_minibatch_rows", s.first_rows}, {"first_minibatch_logprobs", s.first_logprobs}};
      if (!s.ptx_used.empty())
        tensors.emplace_back("ptx_windows", torch::tensor(s.ptx_used, torch::kLong).view({s.updates, -1}));
      for (auto& named : tensors)
        if (named.second.defined()) named.second = named.second.detach().to(torch::kCPU);
      observe_rollout(iteration, tensors);
    }
    loop->show(iteration + 1, {{"score", r.mean_score}, {"kl", r.mean_kl}, {"ptx", s.ptx / u}});
    result.iterations = iteration + 1;
    loop->end_step(iteration + 1, dp.active() ? any_rank_interrupted : interrupt_requested(), [&] {
      loop->checkpoint(iteration + 1, {{"ptx_cursor", ptx_cursor}, {"kl_coef", kl_controller.value}}, {&dp, &dp_value});
    });
  }
};

}  // namespace

PpoResult train_ppo(const PpoOptions& given, PpoModels& m, const std::vector<std::vector<int64_t>>& prompts,
                    const std::vector<Sequence>& ptx_windows, int64_t eos_id, int64_t pad_id,
                    const RewardFunction& reward_function, const PhaseObserver& observe,
                    const RolloutObserver& observe_rollout, DataParallel* group) {
  const PpoOptions o = resolve_ppo_batch_sizes(given);
  check(!prompts.empty(), "ppo: no prompts");
  check(reward_function || m.reward_model, "ppo: a reward model (or a reward function) is needed");
  check(o.rollout_batch_size % o.num_mini_batches == 0, "ppo: rollout_batch_size must be a multiple of num_mini_batches");
  check(o.generation_batch_size >= 0, "ppo: generation_batch_size must be 0 (the rollout batch) or more");
  if (o.advantage_estimator != "gae" && o.advantage_estimator != "rloo")
    fail("ppo: --advantage_estimator", "gae or rloo", o.advantage_estimator);
  if (o.n_samples_per_prompt < 1 || o.rollout_batch_size % o.n_samples_per_prompt != 0 ||
      (o.advantage_estimator == "rloo" && o.n_samples_per_prompt < 2))
    fail("ppo: --n_samples_per_prompt",
         std::string(o.advantage_estimator == "rloo" ? "2 or more (rloo)" : "1 or more") +
             ", dividing the rollout batch of " + std::to_string(o.rollout_batch_size),
         std::to_string(o.n_samples_per_prompt));
  if (o.rollout_logprobs != "recompute" && o.rollout_logprobs != "sampling")
    fail("ppo: --rollout_logprobs", "recompute or sampling", o.rollout_logprobs);
  PpoRun run(o, m, prompts, ptx_windows, eos_id, pad_id, reward_function, observe, observe_rollout, group);
  AutocastGuard autocast(run.device, o.train.dtype);
  for (int64_t iteration = run.loop->step(); iteration < run.iterations; ++iteration) {
    // The learning rates of this iteration, from the schedule (set here rather than after the previous iteration, so
    // that a resumed run starts with the scheduled rate, not the optimizer's initial one).
    const double lr = scheduled_learning_rate(o.train, o.train.learning_rate, iteration, run.iterations);
    set_learning_rate(*run.policy_optimizer, lr);
    set_learning_rate(*run.value_optimizer,
                      scheduled_learning_rate(o.train, o.value_learning_rate, iteration, run.iterations));
    Rollout rollout = run.collect_rollouts(iteration);
    run.score(rollout);
    run.finish_iteration(iteration, rollout, run.optimise(rollout, iteration), lr);
  }
  run.loop->finish();
  if (!run.ema.empty()) {
    torch::NoGradGuard no_grad;
    auto params = trainable_parameters(*m.policy);
    for (size_t k = 0; k < params.size(); ++k) params[k].copy_(run.ema[k]);
  }
  return run.result;
}

}  // namespace rlhf
