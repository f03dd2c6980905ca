// Prompt formats: how an instruction (or a conversation) and a response become token ids, with the prompt/response
// boundary exact. The prompt text and the response text are encoded SEPARATELY and the ids concatenated, so the
// response ids are exactly what the policy generates after the prompt and what the reward model and PPO score; no BPE
// merge ever straddles the boundary. (For the formats below, with byte-level BPE, this gives the same ids as encoding
// the whole text at once whenever the response starts with a visible character, since each format's prompt ends where
// the pre-tokenizer cuts anyway; a response starting with whitespace could have merged with the prompt's last
// whitespace. A SentencePiece response starts a new SentencePiece text, so its first piece carries the "▁" prefix.)
//
// Formats (`name` in parentheses):
//   plain  (plain)   "Instruction: {prompt}\nResponse:" + " {response}" + EOS          — the demo's format
//   HH     (hh)      "\n\nHuman: {prompt}\n\nAssistant:" + " {response}" + EOS        — Anthropic HH-RLHF's format;
//                    earlier turns: "\n\nHuman: ..." / "\n\nAssistant: ..." in order
//   ChatML (chatml)  "<|im_start|>{role}\n{content}<|im_end|>\n" per message, then "<|im_start|>assistant\n";
//                    response + <|im_end|>. Qwen2's default system message is added when the template has one.
//   Llama-3 (llama3) "<|begin_of_text|>" + "<|start_header_id|>{role}<|end_header_id|>\n\n{content, trimmed}<|eot_id|>"
//                    per message, then "<|start_header_id|>assistant<|end_header_id|>\n\n"; response + <|eot_id|>.
//   Zephyr (zephyr)  "<|{role}|>\n{content}</s>\n" per message, then "<|assistant|>\n"; response + </s> (TinyLlama-Chat).
//
//   chat    (chat)    the model's own chat_template (tokenizer_config.json, chat_template.jinja), rendered by our Jinja
//                    subset (tokenizer/chat_template.h) as transformers' apply_chat_template renders it. The prompt is
//                    the conversation with add_generation_prompt; the response is what the template adds when the
//                    conversation continues with the assistant's message (rendered without a generation prompt), up to
//                    and including the template's end-of-turn marker (the first text after the message up to
//                    whitespace: <|im_end|>, <|eot_id|>, </s>, <end_of_turn>, <|end|>); what follows that marker (a
//                    newline, Phi-3's trailing eos) is not part of the response, since generation stops at the marker.
//                    The template writes BOS itself (bos_token), as transformers does: encode() adds none.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/chat.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include <memory>

namespace rlhf {


// A whole conversation as ids, with 1 in `trained` for each token of an assistant reply (its end-of-turn marker
// included) and 0 elsewhere: SFT on every assistant turn (TRL's assistant_only_loss).
struct ConversationTokens {
  std::vector<int64_t> ids;
  std::vector<uint8_t> trained;
  size_t last_reply_start = 0;  // where the last assistant reply begins in `ids`
};

struct PromptTokens {
  std::vector<int64_t> prompt_ids;    // what the policy is conditioned on
  std::vector<int64_t> response_ids;  // the response, ending with the end-of-turn id when `close_response`
};

class PromptFormat {
 public:
  enum class Style { kPlain, kHH, kChatML, kLlama3, kZephyr, kTemplate };

  static PromptFormat plain();
  static PromptFormat hh();
  static PromptFormat chatml(const std::string& default_system = "");
  static PromptFormat llama3();
  static PromptFormat zephyr();
  // A chat_template (Jinja source) rendered with the given special tokens (bos_token, eos_token, ...); rlhf::Error,
  // naming the construct and its line:column, for a template outside the subset (tokenizer/jinja.h).
  static PromptFormat from_chat_template(const std::string& chat_template, SpecialTokens special_tokens = {});
  // "plain", "hh", "chatml", "llama3", "zephyr", or "chat" (the chat_template of `model_dir`).
  static PromptFormat from_name(const std::string& name, const std::string& model_dir = "");

  Style style() const { return style_; }
  std::string name() const;

  // Prompt text for one user turn, ending where the response begins.
  std::string prompt_text(const std::string& prompt) const;
  // Prompt text for a conversation (roles alternate; the last message is the user's), ending where the response begins.
  std::string conversation_text(const std::vector<ChatMessage>& messages) const;
  // The response as text, as it follows the prompt (" {response}" for plain and HH; for a chat template, the
  // response as the template renders it after a one-turn prompt, without the end-of-turn marker).
  std::string response_text(const std::string& response) const;
  // The chat template (Style::kTemplate only; nullptr otherwise).
  const ChatTemplate* chat_template() const { return template_.get(); }

  // The token that closes a response in this format (EOS, <|im_end|>, <|eot_id|>, a template's end-of-turn marker);
  // -1 when the tokenizer has none.
  int64_t end_of_response_id(const Tokenizer& tokenizer) const;
  // Ids that should stop generation: the end-of-response id and EOS (without duplicates or -1).
  std::vector<int64_t> stop_ids(const Tokenizer& tokenizer) const;

  // Prompt and response ids (see the header comment for why they are encoded separately). `add_bos` prepends the
  // tokenizer's BOS to the prompt (Llama-2-style SentencePiece models want it; the Llama-3 format writes its own).
  PromptTokens encode(const Tokenizer& tokenizer, const std::string& prompt, const std::string& response = "",
                      bool close_response = true, bool add_bos = false) const;
  PromptTokens encode_conversation(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                                   const std::string& response = "", bool close_response = true,
                                   bool add_bos = false) const;
  // A chat template's rendering of `messages` (the last the assistant's), every assistant reply encoded as
  // encode_conversation encodes a response after the turns before it, the text between replies encoded apart. Fails
  // for the named formats, and naming the turn when the template writes earlier turns differently once later turns
  // follow (e.g. a system message moved into the last user turn), where no turn boundary can be found.
  ConversationTokens encode_turns(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages) const;

 private:
  explicit PromptFormat(Style style) : style_(style) {}
  Style style_;
  // A chat template's rendering of `messages` followed by the assistant's `response`, cut into what follows the prompt:
  // the text before the response's end-of-turn marker and the marker itself ("" when the template writes none).
  struct RenderedResponse {
    std::string body, marker;
  };
  RenderedResponse render_response(const std::vector<ChatMessage>& messages, const std::string& response,
                                   const std::string& prompt) const;

  std::string default_system_;  // ChatML: the system message a template adds when none is given
  std::shared_ptr<const ChatTemplate> template_;  // kTemplate
};

// Whether a model's prompts start with its tokenizer's BOS: SentencePiece models that have one (Llama-2, Mistral,
// TinyLlama) were trained with it; byte-level BPE tokenizers get none (GPT-2 and Qwen2 have none to add, and the Llama-3
// format writes its own <|begin_of_text|>). Pretraining text is encoded by the same rule.
bool prompt_wants_bos(const Tokenizer& tokenizer);

// The one encoding of a prompt (one user turn, or a conversation) and its response for every stage: SFT, the reward
// model's training and normalisation, scoring, PPO's prompts, sampling for rankings and `rlhf generate` (evaluation
// applies prompt_wants_bos to its own texts). PromptFormat::encode with BOS when prompt_wants_bos, so that PPO samples
// from, and the reward model scores, the ids SFT trained on.
PromptTokens encode_prompt(const Tokenizer& tokenizer, const PromptFormat& format, const std::string& prompt,
                           const std::string& response = "", bool close_response = true);
PromptTokens encode_prompt(const Tokenizer& tokenizer, const PromptFormat& format,
                           const std::vector<ChatMessage>& messages, const std::string& response = "",
                           bool close_response = true);

// The chat_template of a model directory: tokenizer_config.json's "chat_template" (a string, or the "default" of a
// list), else chat_template.jinja, else chat_template.json. Empty when there is none.
std::string read_chat_template(const std::string& model_dir);

}  // namespace rlhf
