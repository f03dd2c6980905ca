// A model on text, for every caller (evaluation, the pipeline): responses to a list of prompts (batched, with the KV
// cache; infer/batch.h's generate_rows underneath), few-shot prompting of a base model, and log-likelihoods of
// continuations (choices, pronouns, sentences, held-out text).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "infer/batch.h"
#include "model/device.h"
#include "model/transformer.h"
#include "tokenizer/prompt_format.h"
#include "tokenizer/tokenizer.h"

namespace rlhf {

// A model directory loaded to be run on text: the weights, the tokenizer beside them, and the prompt format.
struct TextModel {
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
TextModel load_text_model(const std::string& key, const std::string& dir, const std::string& format = "plain",
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

// The few-shot prefix: each demonstration in the model's format, a blank line after each ("Instruction: ...\nResponse:
// ...\n\n" blocks in the plain format).
std::string few_shot_prefix(const PromptFormat& format, const std::vector<std::pair<std::string, std::string>>& demos);

// One response per prompt (decoded, special tokens skipped, cut at the stop strings, trimmed), in order. With
// `samples_per_prompt` > 1 the result holds that many responses per prompt, consecutively. Prompts are batched by
// length (less padding); the results come back in the prompts' order.
std::vector<std::string> generate_responses(TextModel& model, const std::vector<std::string>& prompts,
                                            const SamplingOptions& options, const PromptStyle& style = {},
                                            int64_t samples_per_prompt = 1, GenerationStats* stats = nullptr);

// The pipeline's sampling (rankings, SFT epoch selection): a model and the run's tokenizer, the GenerationOptions as
// given, `generator` carried on from call to call, rows batched in the prompts' order. `prefix` (a few-shot block for
// the base model, "" otherwise) is encoded on its own and put before each formatted prompt (after its BOS, if any);
// a response is decoded without its end-of-response token and leading spaces (no stop strings, no trimming of its end).
struct Sampled {
  std::vector<std::string> responses;
  int64_t tokens_generated = 0;  // response tokens sampled
  int64_t tokens_prompted = 0;   // prompt tokens run through the model before the first of them (one forward each)
};
Sampled sample_responses(TransformerImpl& model, const Tokenizer& tokenizer, const PromptFormat& format,
                         const std::vector<std::string>& prompts, const GenerationOptions& options, int64_t batch_size,
                         at::Generator generator, const std::string& prefix = "");

// log p(continuation | context), summed over the continuation's tokens, for each pair. Context and continuation are
// encoded separately (so the continuation's tokens are the same for every context). An empty context is replaced by the
// BOS (or else the EOS) token so that the first token has something to be conditioned on. `token_counts`, when given,
// receives the number of continuation tokens scored per pair (the context is cut from the left to fit the model).
std::vector<double> continuation_logprobs(TextModel& model, const std::vector<std::string>& contexts,
                                          const std::vector<std::string>& continuations, int64_t batch_size,
                                          std::vector<int64_t>* token_counts = nullptr);

}  // namespace rlhf
