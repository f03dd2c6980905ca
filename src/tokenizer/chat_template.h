// A model's chat template (the Jinja `chat_template` of tokenizer_config.json) rendered as transformers'
// apply_chat_template(messages, tokenize=False, add_generation_prompt=...) renders it: same variables (messages,
// add_generation_prompt, tools=None, documents=None, and the tokenizer's special tokens such as bos_token and eos_token),
// same globals (raise_exception, strftime_now), same whitespace rules. The Jinja subset it understands is described in
// tokenizer/jinja.h; a template outside it is refused when constructed, with an rlhf::Error naming the construct and
// its line:column. raise_exception("...") in a template becomes an rlhf::Error carrying the template's message.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/chat.h"

namespace rlhf {

namespace jinja {
struct Template;
}

// Special tokens by their transformers names ("bos_token", "eos_token", "unk_token", "pad_token", ...); only those the
// tokenizer has (transformers leaves an unset one undefined in the template).
using SpecialTokens = std::vector<std::pair<std::string, std::string>>;

class ChatTemplate {
 public:
  explicit ChatTemplate(const std::string& source, SpecialTokens special_tokens = {});

  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // Messages as JSON objects (any fields: role, content, tool_calls, ...); `extra` adds template variables (an object).
  std::string render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                     const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  const SpecialTokens& special_tokens() const { return special_tokens_; }

 private:
  std::shared_ptr<const jinja::Template> template_;
  SpecialTokens special_tokens_;
};

// The special tokens transformers would pass to a model directory's template: tokenizer_config.json's bos_token,
// eos_token, unk_token, pad_token, sep_token, cls_token, mask_token (a string or an AddedToken object {"content"}),
// else special_tokens_map.json's. Empty when the directory has neither file.
SpecialTokens read_special_tokens(const std::string& model_dir);

}  // namespace rlhf
