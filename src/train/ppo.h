// PPO with a KL penalty to the SFT policy, and PPO-ptx (InstructGPT §3.5 "RL", eq. 2):
//   objective(φ) = E_{(x,y)∼π_φ}[ r_θ(x,y) − β·log(π_φ(y|x) / π_SFT(y|x)) ] + γ·E_{x∼D_pretrain}[ log π_φ(x) ]
// Every choice the paper leaves open follows ../shared/PPO.md and is an option here (TRL's names where TRL has one).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "infer/batch.h"
#include "model/transformer.h"
#include "train/loop.h"

namespace rlhf {

// PPO's own training defaults (the paper, PPO.md): a constant learning rate after a linear warm-up over 10 iterations
// (the schedule's steps are PPO iterations; --warmup_steps 0 lets --warmup_ratio apply instead).
// per_device_train_batch_size and gradient_accumulation_steps are 0 (not given): TRL's PPOConfig derives the episodes
// of an iteration from them (resolve_ppo_batch_sizes), and rlhf from rollout_batch_size when they are not given.
inline TrainingOptions ppo_training_defaults() {
  TrainingOptions t;
  t.lr_scheduler_type = "constant";
  t.warmup_steps = 10;
  t.per_device_train_batch_size = 0;
  t.gradient_accumulation_steps = 0;
  return t;
}

struct PpoOptions {
  TrainingOptions train = ppo_training_defaults();  // learning_rate = the policy's; max_length bounds prompt + response
  std::string sft_model_path;      // policy initialisation and the frozen reference π_SFT
  std::string model_name_or_path;  // TRL's: the tokenizer (and the policy when sft_model_path is not given)
  std::string reward_model_path;   // r_θ (its reward_normalization.json offset is applied)
  std::string value_model_path;    // default: the reward model (the paper's value initialisation)
  std::string tokenizer;
  std::string dataset;             // prompts JSONL {"prompt", ...}
  std::string ptx_dataset;         // pretraining text JSONL {"text"} for PPO-ptx
  std::string prompt_format = "plain";
  int64_t total_episodes = 0;      // 0: num_train_epochs passes over the prompts
  // Episodes per PPO iteration and rank (the paper: 512). 0: TRL's per_device_train_batch_size x
  // gradient_accumulation_steps x num_mini_batches when those are given, else 64.
  int64_t rollout_batch_size = 0;
  // Episodes per generate call (0: the whole rollout batch). Each call samples with a generator seeded from (seed, the
  // index of its first episode), so the samples do not depend on how episodes are split over calls and ranks: two
  // ranks × B episodes draw what one process with 2·B episodes and generation_batch_size B draws.
  int64_t generation_batch_size = 0;
  int64_t num_mini_batches = 8;
  int64_t num_ppo_epochs = 1;
  int64_t response_length = 48;
  double temperature = 1.0;
  // Where the old policy's log-probs (the ratio's denominator) come from: "recompute" runs the policy once more over
  // prompt + response after generation (OpenRLHF, DeepSpeed-Chat); "sampling" keeps the log-probs of the sampling
  // steps themselves (TRL's PPOTrainer), which saves one forward per iteration. They agree up to rounding (the same
  // weights, KV cache vs one pass; more apart under bf16 autocast).
  std::string rollout_logprobs = "recompute";
  double kl_coef = 0.02;           // β
  std::string kl_estimator = "k1";
  double kl_target = 0.0;          // > 0: adaptive β (Ziegler et al.) towards this summed-per-response KL
  double kl_horizon = 10000.0;
  double cliprange = 0.2;
  double cliprange_value = 0.2;
  // No vf_coef: the value model has its own AdamW, whose step does not depend on a scale of the loss; a coefficient
  // would only move its gradient clipping (0.1 made max_grad_norm 1 act as 10). The value loss is clipped unscaled.
  double gamma = 1.0;
  double lam = 0.95;
  // "gae" (the paper's PPO: a value model, GAE) or "rloo" (OpenRLHF's names): each prompt sampled
  // n_samples_per_prompt times in the same rollout batch, and a response's score less the mean of its siblings'
  // (leave-one-out) is its advantage, with the per-token KL penalty summed from each token on; no value model is
  // trained. The clipped PPO loss, the KL penalty and ptx are the same for both (PPO.md, critic-free estimators).
  std::string advantage_estimator = "gae";
  int64_t n_samples_per_prompt = 1;
  bool trains_value_model() const { return advantage_estimator == "gae"; }  // RLOO reads no values
  bool whiten_rewards = false;
  double missing_eos_penalty = 0.0;  // subtracted from the score of a response cut at response_length
  double reward_clip = 0.0;          // > 0: clip the score to ±reward_clip
  // > 0: the PPO epochs of an iteration stop at the first minibatch whose approx-KL (before its step, over all ranks'
  // tokens) exceeds 1.5×this; that minibatch is not trained on.
  double target_approx_kl = 0.0;
  double value_learning_rate = 9e-6; // the paper's value-function learning rate
  // The first iterations train the value model only (OpenRLHF's --freezing_actor_steps): a value model read from the
  // RM has never seen an unfinished response, and until it has learnt them its errors, not the reward, make the
  // advantages. They count towards total_episodes.
  int64_t freezing_actor_steps = 0;
  // γ of PPO-ptx (the paper's 27.8, PPO.md), used when there are pretraining windows (--ptx_dataset): without them, or
  // with 0, the run is plain PPO.
  double ptx_coef = 27.8;
  int64_t ptx_ratio = 8;             // pretraining sequences per RL episode in each minibatch (the paper's 8)
  int64_t ptx_max_length = 128;      // pretraining window length in tokens
  std::string ptx_packing = "wrapped";  // how texts share windows: wrapped | bfd (each apart), as sft's packing_strategy
  double ema_decay = 0.0;            // > 0: the saved policy is an EMA of the weights
  bool save_rollouts = false;        // OUTPUT/rollouts/iteration-N[-rank-R].safetensors: what each iteration trained on
  bool quiet = false;
};

// A reward computed from the response tokens instead of a reward model (tests, and rule-based rewards).
// prompt_indices [B] (each episode's index into train_ppo's prompts), response_ids, response_mask [B, N] -> scores [B].
using RewardFunction =
    std::function<torch::Tensor(const std::vector<int64_t>&, const torch::Tensor&, const torch::Tensor&)>;
// The same on text, for run_ppo: (index of the prompt in the dataset, the decoded response) -> its score.
using TextRewardFunction = std::function<double(size_t prompt_index, const std::string& response)>;

// Called at the start (begin = true) and end of each phase of an iteration: "generation", "scoring" (old policy,
// reference, value and reward forwards), "optimisation" (the PPO epochs). `rlhf bench` times and measures memory with it.
using PhaseObserver = std::function<void(const char* phase, bool begin)>;

// One iteration's rollouts as trained on (this rank's episodes), as CPU tensors, for tests and --save_rollouts:
//   ids, mask [B, P + N]: the left-padded prompt, then the response;  scores [B]: the reward model's (offset applied),
//   before missing_eos_penalty and reward_clip;  response_ids, response_mask, sampling_logprobs (the sampling steps'),
//   logprobs (the ratio's old log-probs), ref_logprobs, values, rewards (per token: −β·KL, plus the final score on the
//   last token), advantages (whitened), returns [B, N];  first_minibatch_rows [b] and first_minibatch_logprobs [b, N]:
//   the training forward's log-probs of the first minibatch before any update;  ptx_windows [minibatches, k]: the
//   indices of the pretraining windows each trained minibatch used (absent without ptx).
using RolloutTensors = std::vector<std::pair<std::string, torch::Tensor>>;
using RolloutObserver = std::function<void(int64_t iteration, const RolloutTensors& tensors)>;

struct PpoModels {
  Transformer policy{nullptr}, reference{nullptr}, reward_model{nullptr}, value_model{nullptr};
  double reward_offset = 0.0;  // subtracted from the reward model's score (its reward_normalization.json)
  // Subtracted from the value model's read-out: the paper initialises the value function from the *normalised* RM, so
  // a value model read from a reward model directory takes that directory's offset.
  double value_offset = 0.0;
};

struct PpoResult {
  int64_t iterations = 0;
  std::vector<double> mean_scores;   // per iteration: mean RM score of the rollouts
  std::vector<double> mean_kl;       // per iteration: mean over responses of the summed per-token KL
  std::vector<double> ptx_losses;    // per iteration: mean ptx NLL (when ptx is on)
  std::vector<double> kl_coefs;      // β per iteration
  // Per iteration, over the first minibatch's tokens before any update: the largest |log π_sampling − log π_training|
  // and the mean KL(π_sampling ‖ π_training) (k3 estimator), between the sampling steps' log-probs and the training
  // forward's of the same tokens (one model, so rounding only; logged as logprobs/sampling_vs_training_*).
  std::vector<double> sampling_logprob_max_gaps, sampling_logprob_kls;
  int64_t policy_updates = 0;        // minibatches trained (an early stop on approx-KL ends them before stepping)
  int64_t tokens_generated = 0, tokens_scored = 0, tokens_trained = 0;
};

void bind_ppo_options(Options& options, PpoOptions& ppo);

// The batch sizes as TRL's PPOConfig relates them: an iteration's episodes (per rank) = per_device_train_batch_size x
// gradient_accumulation_steps x num_mini_batches; a minibatch is per_device_train_batch_size x
// gradient_accumulation_steps episodes, run in micro-batches of per_device_train_batch_size before one step.
// Without those two, rollout_batch_size (or 64) decides and they are filled in. Both given and disagreeing: an error.
PpoOptions resolve_ppo_batch_sizes(PpoOptions options);

// The library entry: models already loaded, prompts already tokenized (left part of each episode), pretraining windows
// for ptx (may be empty), the tokenizer's EOS and pad ids. `reward_function`, when set, replaces the reward model.
PpoResult train_ppo(const PpoOptions& options, PpoModels& models, const std::vector<std::vector<int64_t>>& prompts,
                    const std::vector<Sequence>& ptx_windows, int64_t eos_id, int64_t pad_id,
                    const RewardFunction& reward_function = nullptr, const PhaseObserver& observe = nullptr,
                    const RolloutObserver& observe_rollout = nullptr, DataParallel* group = nullptr);

// The CLI entry: loads models, tokenizer and data from the options' paths, trains, writes OUTPUT (the policy as an HF
// model directory with its tokenizer) and OUTPUT/value_model.
// `text_reward`, when set, replaces the reward model as the score (the RM is still loaded when it is the value model).
PpoResult run_ppo(const PpoOptions& options, const TextRewardFunction& text_reward = nullptr);

}  // namespace rlhf
