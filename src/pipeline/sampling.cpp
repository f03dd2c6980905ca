#include "pipeline/sampling.h"

namespace rlhf::pipeline {

Sampled sample_responses(TransformerImpl& model, const Tokenizer& tokenizer, const PromptFormat& format,
                         const std::vector<std::string>& prompts, const GenerationOptions& options, int64_t batch_size,
                         at::Generator& generator, const std::string& prefix) {
  model.eval();
  const torch::Device device = model.embed_tokens.device();
  const int64_t max_prompt = model.config().max_position_embeddings - options.max_new_tokens;
  GenerationOptions o = options;
  o.stop_token_ids = format.stop_ids(tokenizer);
  Sampled out;
  for (size_t start = 0; start < prompts.size(); start += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(prompts.size(), start + static_cast<size_t>(batch_size));
    std::vector<std::vector<int64_t>> rows;
    int64_t width = 1;
    for (size_t i = start; i < end; ++i) {
      auto ids = encode_prompt(tokenizer, format, prompts[i], "", false).prompt_ids;
      if (!prefix.empty()) {  // after the BOS, if any
        auto head = tokenizer.encode(prefix);
        ids.insert(ids.begin() + (prompt_wants_bos(tokenizer) ? 1 : 0), head.begin(), head.end());
      }
      if (static_cast<int64_t>(ids.size()) > max_prompt) ids.erase(ids.begin(), ids.end() - max_prompt);
      width = std::max<int64_t>(width, static_cast<int64_t>(ids.size()));
      rows.push_back(std::move(ids));
    }
    auto ids = torch::full({static_cast<int64_t>(rows.size()), width}, o.pad_token_id, torch::kLong);
    auto mask = torch::zeros_like(ids);
    for (size_t i = 0; i < rows.size(); ++i) {
      const int64_t n = static_cast<int64_t>(rows[i].size());
      ids[static_cast<int64_t>(i)].slice(0, width - n).copy_(torch::tensor(rows[i], torch::kLong));
      mask[static_cast<int64_t>(i)].slice(0, width - n).fill_(1);
    }
    auto generated = generate(model, ids.to(device), mask.to(device), o, generator);
    auto response_ids = generated.response_ids.to(torch::kCPU);
    auto lengths = generated.response_mask.sum(1).to(torch::kCPU);
    out.tokens_generated += lengths.sum().item<int64_t>();
    for (int64_t i = 0; i < response_ids.size(0); ++i) {
      const int64_t n = lengths[i].item<int64_t>();
      std::vector<int64_t> tokens(response_ids[i].data_ptr<int64_t>(), response_ids[i].data_ptr<int64_t>() + n);
      while (!tokens.empty() && std::find(o.stop_token_ids.begin(), o.stop_token_ids.end(), tokens.back()) != o.stop_token_ids.end())
        tokens.pop_back();  // the end-of-response token is not part of the text
      std::string text = tokenizer.decode(tokens, true);
      const size_t first = text.find_first_not_of(' ');
      out.responses.push_back(first == std::string::npos ? "" : text.substr(first));
    }
  }
  return out;
}

std::string few_shot_prefix(const std::vector<std::pair<std::string, std::string>>& examples) {
  std::string out;
  for (const auto& [prompt, response] : examples) out += "Instruction: " + prompt + "\nResponse: " + response + "\n\n";
  return out;
}

}  // namespace rlhf::pipeline
