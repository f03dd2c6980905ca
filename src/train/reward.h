// Reward model (InstructGPT §3.5 "RM"): the SFT model with the unembedding removed and a scalar head, trained on K
// ranked responses per prompt with all C(K,2) comparisons of a prompt in one batch element (K forwards, not 2·C(K,2)).
// After training it is normalised so that the labelers' demonstrations score 0 on average.
#pragma once
#include <string>
#include <vector>

#include "io/model_dir.h"  // load_reward_offset
#include "model/transformer.h"
#include "tokenizer/prompt_format.h"
#include "train/loop.h"

namespace rlhf {

struct RewardOptions {
  TrainingOptions train;           // per_device_train_batch_size counts prompts (each with its K responses)
  std::string model_name_or_path;  // the SFT model (or a reward model to continue)
  std::string tokenizer;
  std::string dataset;             // rankings JSONL (K = 2..9, or chosen/rejected pairs)
  std::string eval_dataset;        // held-out rankings; else eval_fraction of dataset is held out
  double eval_fraction = 0.1;
  std::string normalize_dataset;   // demonstrations JSONL ({"prompt","completion"}): their mean reward becomes 0
  std::string prompt_format = "plain";
  // > 0: the loss also takes lm_coef x the mean per-token NLL of each prompt's best-ranked response, through the LM
  // head the SFT model came with (kept while training, dropped from the saved RM): the RM keeps the language model it
  // started from instead of trading it for the labelers' easiest cues (hidden-state regularisation, Yang et al. 2024).
  double lm_coef = 0.0;
  bool quiet = false;
};

struct RewardResult {
  int64_t steps = 0;
  double train_loss = 0;
  double train_accuracy = 0;       // over the comparisons of the last logging window
  double eval_accuracy = -1;       // share of held-out comparisons with r(y_w) > r(y_l)
  int64_t eval_pairs = 0;
  double reward_offset = 0;        // subtracted from every raw reward (the demonstrations' mean)
  int64_t sequences_scored = 0;    // forward passes over (prompt, response) sequences in training
  int64_t tokens_trained = 0;
};

void bind_reward_options(Options& options, RewardOptions& reward);
RewardResult run_reward_training(const RewardOptions& options);

}  // namespace rlhf
