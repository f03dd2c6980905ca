#include "infer/scoring.h"

#include <algorithm>

namespace rlhf {

Sequence encode_pair(const Tokenizer& tokenizer, const PromptFormat& format, const std::string& prompt,
                     const std::string& response, size_t max_length, TruncationPolicy policy, TruncationCounts& counts,
                     bool* kept) {
  return fit_to_length(encode_prompt(tokenizer, format, prompt, response), max_length, policy, counts, kept);
}

Sequence encode_pair(const Tokenizer& tokenizer, const PromptFormat& format, const std::vector<ChatMessage>& prompt,
                     const std::string& response, size_t max_length, TruncationPolicy policy, TruncationCounts& counts,
                     bool* kept) {
  return fit_to_length(encode_prompt(tokenizer, format, prompt, response), max_length, policy, counts, kept);
}

std::vector<double> score_texts(TransformerImpl& reward_model, const Tokenizer& tokenizer, const PromptFormat& format,
                                const std::vector<std::string>& prompts, const std::vector<std::string>& responses,
                                double offset, int64_t batch_size, int64_t max_length) {
  std::vector<std::vector<ChatMessage>> conversations;
  for (const std::string& prompt : prompts) conversations.push_back({{"user", prompt}});  // as encode_prompt(text) does
  return score_texts(reward_model, tokenizer, format, conversations, responses, offset, batch_size, max_length);
}

std::vector<double> score_texts(TransformerImpl& reward_model, const Tokenizer& tokenizer, const PromptFormat& format,
                                const std::vector<std::vector<ChatMessage>>& prompts,
                                const std::vector<std::string>& responses, double offset, int64_t batch_size,
                                int64_t max_length) {
  torch::NoGradGuard no_grad;
  const torch::Device device = reward_model.embed_tokens.device();
  TruncationCounts counts;
  std::vector<Sequence> sequences;
  for (size_t i = 0; i < prompts.size(); ++i) {
    bool kept = true;
    sequences.push_back(encode_pair(tokenizer, format, prompts[i], responses[i], static_cast<size_t>(max_length),
                                    TruncationPolicy::kTruncatePromptLeft, counts, &kept));
  }
  std::vector<double> rewards;
  for (size_t start = 0; start < sequences.size(); start += static_cast<size_t>(batch_size)) {
    std::vector<const Sequence*> rows;
    for (size_t i = start; i < std::min(sequences.size(), start + static_cast<size_t>(batch_size)); ++i)
      rows.push_back(&sequences[i]);
    auto batch = pad_right(rows, pad_id_of(tokenizer), device);
    auto r = score_at_last_token(reward_model, batch.ids, batch.attention).to(torch::kCPU, torch::kFloat64);
    for (int64_t i = 0; i < r.size(0); ++i) rewards.push_back(r[i].item<double>() - offset);
  }
  return rewards;
}

}  // namespace rlhf
