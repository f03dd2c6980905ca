// Responses of a model directory for text prompts (the pipeline's rankings and SFT epoch selection).
#pragma once
#include <string>
#include <vector>

#include "model/generate.h"
#include "tokenizer/prompt_format.h"

namespace rlhf::pipeline {

struct Sampled {
  std::vector<std::string> responses;
  int64_t tokens_generated = 0;
};

// `prefix` is put before each formatted prompt (a few-shot block for the base model, "" otherwise).
Sampled sample_responses(TransformerImpl& model, const Tokenizer& tokenizer, const PromptFormat& format,
                         const std::vector<std::string>& prompts, const GenerationOptions& options, int64_t batch_size,
                         at::Generator& generator, const std::string& prefix = "");

// "Instruction: ...\nResponse: ...\n\n" blocks of the plain format, for few-shot prompting of the base model.
std::string few_shot_prefix(const std::vector<std::pair<std::string, std::string>>& examples);

}  // namespace rlhf::pipeline
