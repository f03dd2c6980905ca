// A reward model on text, for every caller (RM training's normalisation, the pipeline's SFT epoch selection and
// cross-validation, the evaluation): (prompt, response) pairs encoded as the RM was trained on them, and rewards read at
// each sequence's last token.
#pragma once
#include <string>
#include <vector>

#include "data/formats.h"
#include "infer/batch.h"
#include "model/transformer.h"
#include "tokenizer/prompt_format.h"
#include "tokenizer/tokenizer.h"

namespace rlhf {

// prompt + response + end-of-response in `format`, fitted to max_length (infer/batch.h's fit_to_length).
Sequence encode_pair(const Tokenizer& tokenizer, const PromptFormat& format, const std::string& prompt,
                     const std::string& response, size_t max_length, TruncationPolicy policy, TruncationCounts& counts,
                     bool* kept);
// The same for a conversation (its last message the user's) and the assistant's response.
Sequence encode_pair(const Tokenizer& tokenizer, const PromptFormat& format, const std::vector<ChatMessage>& prompt,
                     const std::string& response, size_t max_length, TruncationPolicy policy, TruncationCounts& counts,
                     bool* kept);

// Rewards for (prompt, response) texts: the scalar head at each sequence's last token, minus `offset` (a reward model's
// normalisation, io/model_dir.h's load_reward_offset). Prompts too long for max_length keep their end.
std::vector<double> score_texts(TransformerImpl& reward_model, const Tokenizer& tokenizer, const PromptFormat& format,
                                const std::vector<std::string>& prompts, const std::vector<std::string>& responses,
                                double offset, int64_t batch_size, int64_t max_length);
// The same for conversations (each ending with the user's message) and the assistant's responses.
std::vector<double> score_texts(TransformerImpl& reward_model, const Tokenizer& tokenizer, const PromptFormat& format,
                                const std::vector<std::vector<ChatMessage>>& prompts,
                                const std::vector<std::string>& responses, double offset, int64_t batch_size,
                                int64_t max_length);

}  // namespace rlhf
