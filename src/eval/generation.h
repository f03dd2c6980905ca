// Running a model for the evaluation: responses to a list of prompts (batched, with the KV cache), the few-shot
// prompting of the "base few-shot" baseline, and log-likelihoods of continuations (choices, pronouns, sentences,
// held-out text).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/device.h"
#include "model/transformer.h"
#include "tokenizer/prompt_format.h"
#include "tokenizer/tokenizer.h"

namespace rlhf::eval {

// A model directory loaded for evaluation: the weights, the tokenizer beside them, and the prompt format.
struct EvalModel {
  std::string key;  // "ppo_ptx", or a user's name for it
  std::string dir;
  Transformer model{nullptr};
  std::unique_ptr<Tokenizer> tokenizer;
  PromptFormat format = PromptFormat::plain();
  bool add_bos = false;  // SentencePiece models with a BOS want it before the prompt
  torch::Device device = torch::kCPU;

  int64_t parameters() const { return model->config().parameter_count(); }
  int64_t context_length() const;
  // Ids of the tokens whose text holds a newline (found once, on first use).
  const std::vector<int64_t>& newline_ids();

 private:
  std::vector<int64_t> newline_ids_;
  bool newline_ids_found_ = false;
};

// Loads DIR (an HF model directory with its tokenizer). `format` is a PromptFormat name ("plain" for the demo).
// `tokenizer` is where the tokenizer is when DIR has none ("": DIR).
EvalModel load_eval_model(const std::string& key, const std::string& dir, const std::string& format = "plain",
                          const std::string& device = "cpu", const std::string& tokenizer = "");
// DIR when it holds tokenizer files (tokenizer.json, vocab.json, tokenizer.model), else `fallback` (or DIR if empty).
std::string tokenizer_path(const std::string& dir, const std::string& fallback);

struct SamplingOptions {
  int64_t max_new_tokens = 48;
  bool do_sample = true;     // false: greedy
  double temperature = 0.7;
  double top_p = 1.0;
  int64_t batch_size = 16;
  uint64_t seed = 1;
  // The text after any of these is cut off: a base model that has seen the few-shot prefix goes on with the next
  // "Instruction:" rather than stopping.
  std::vector<std::string> stop_strings = {"\nInstruction:", "\n\nInstruction"};
  // One-line answers (QA): a row stops at its first token holding a newline, and the text is cut there. Saves
  // generating the rest of a rambling answer that would be cut anyway.
  bool stop_at_newline = false;
};

// How a prompt becomes the text the model continues.
struct PromptStyle {
  bool use_format = true;  // wrap in the model's prompt format; false: the prompt text as is
  std::string prefix;      // text before it (a few-shot prefix, an instruction)
};

// The few-shot prefix: each demonstration in the model's format, a blank line after each.
std::string few_shot_prefix(const PromptFormat& format, const std::vector<std::pair<std::string, std::string>>& demos);

struct GenerationStats {
  int64_t tokens_generated = 0;  // response tokens (up to and including EOS)
  int64_t tokens_prompted = 0;   // prompt tokens run through the model
};

// One response per prompt (decoded, special tokens skipped, cut at the stop strings, trimmed), in order. With
// `samples_per_prompt` > 1 the result holds that many responses per prompt, consecutively. Prompts are batched by
// length (less padding); the results come back in the prompts' order.
std::vector<std::string> generate_responses(EvalModel& model, const std::vector<std::string>& prompts,
                                            const SamplingOptions& options, const PromptStyle& style = {},
                                            int64_t samples_per_prompt = 1, GenerationStats* stats = nullptr);

// log p(continuation | context), summed over the continuation's tokens, for each pair. Context and continuation are
// encoded separately (so the continuation's tokens are the same for every context). An empty context is replaced by the
// BOS (or else the EOS) token so that the first token has something to be conditioned on. `token_counts`, when given,
// receives the number of continuation tokens scored per pair (the context is cut from the left to fit the model).
std::vector<double> continuation_logprobs(EvalModel& model, const std::vector<std::string>& contexts,
                                          const std::vector<std::string>& continuations, int64_t batch_size,
                                          std::vector<int64_t>* token_counts = nullptr);

}  // namespace rlhf::eval
