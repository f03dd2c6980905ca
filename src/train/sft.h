// Supervised fine-tuning (InstructGPT §3.5 "SFT"): cross-entropy on labeler demonstrations, loss on response tokens
// only. The same trainer pretrains from scratch on {"text"} lines (loss on every token, texts packed into windows).
#pragma once
#include <string>
#include <vector>

#include "train/loop.h"

namespace rlhf {

struct SftOptions {
  TrainingOptions train;
  std::string model_name_or_path;  // an HF model directory to start from
  std::string init_config;         // or a config.json for a randomly initialised model (pretraining from scratch)
  std::string tokenizer;           // default: the model directory
  std::string dataset;             // JSONL: {"prompt","completion"}, {"messages"}, or {"text"} (pretraining)
  std::string eval_dataset;        // optional, same format: eval_loss each epoch
  std::string prompt_format = "plain";  // plain | hh | chatml | llama3 | zephyr | chat (the model's template)
  bool save_every_epoch = true;    // OUTPUT/epoch-N model directories (the paper picks the epoch by RM score)
  // TRL's names. packing: examples share windows of max_length tokens, by packing_strategy (infer/batch.h): bfd
  // (TRL's default: whole examples, each attending only to itself) or wrapped (end to end, attending across); {"text"}
  // data is always packed, by the same strategy.
  // completion_only_loss: {"prompt","completion"} data trains on the completion only (false: every token).
  // assistant_only_loss: {"messages"} data trains on the assistant's reply only (false: every token; TRL's default).
  bool packing = false;
  std::string packing_strategy = "bfd";
  bool completion_only_loss = true;
  bool assistant_only_loss = true;
  bool quiet = false;              // no progress bar (tests)
};

struct SftResult {
  int64_t steps = 0;
  double train_loss = 0;           // mean over the last logging window
  double eval_loss = -1;           // the last evaluation's, when an eval set was given (eval_strategy not no)
  double eval_mean_token_accuracy = -1;
  std::vector<std::string> epoch_dirs;
  int64_t tokens_trained = 0;      // tokens through forward and backward in this process, prompt and response alike
                                   // (not padding): the compute report counts every stage this way
};

void bind_sft_options(Options& options, SftOptions& sft);
SftResult run_sft(const SftOptions& options);

}  // namespace rlhf
