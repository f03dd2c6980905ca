#include "tokenizer/prompt_format.h"

#include <cctype>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"

namespace rlhf {

namespace {

// Jinja's `trim` (Python str.strip) on the whitespace that matters in chat content.
std::string trim(const std::string& s) {
  const char* space = " \t\n\r\f\v";
  size_t begin = s.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(space) - begin + 1);
}

void check_conversation(const std::vector<ChatMessage>& messages) {
  if (messages.empty()) fail("conversation", "at least one message", "none");
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].role;
    if (role == "system" && i == 0) continue;
    if (role != "user" && role != "assistant")
      fail("conversation message " + std::to_string(i), "role system (first only), user or assistant", "\"" + role + "\"");
  }
  if (messages.back().role != "user")
    fail("conversation", "the last message to be the user's", "\"" + messages.back().role + "\"");
}

int64_t required_token(const Tokenizer& tokenizer, const char* token, const std::string& format) {
  int64_t id = tokenizer.token_to_id(token);
  if (id < 0) fail(format + " prompt format", std::string("a tokenizer with the token ") + token, "none");
  return id;
}

}  // namespace

PromptFormat PromptFormat::plain() { return PromptFormat(Style::kPlain); }
PromptFormat PromptFormat::hh() { return PromptFormat(Style::kHH); }
PromptFormat PromptFormat::llama3() { return PromptFormat(Style::kLlama3); }
PromptFormat PromptFormat::zephyr() { return PromptFormat(Style::kZephyr); }
PromptFormat PromptFormat::chatml(const std::string& default_system) {
  PromptFormat format(Style::kChatML);
  format.default_system_ = default_system;
  return format;
}

PromptFormat PromptFormat::from_chat_template(const std::string& chat_template, SpecialTokens special_tokens) {
  if (chat_template.empty()) fail("chat_template", "a chat template", "an empty one");
  PromptFormat format(Style::kTemplate);
  format.template_ = std::make_shared<const ChatTemplate>(chat_template, std::move(special_tokens));
  return format;
}

PromptFormat PromptFormat::from_name(const std::string& name, const std::string& model_dir) {
  if (name == "plain") return plain();
  if (name == "hh") return hh();
  if (name == "chatml") return chatml();
  if (name == "llama3") return llama3();
  if (name == "zephyr") return zephyr();
  if (name == "chat") {
    std::string chat_template = read_chat_template(model_dir);
    if (chat_template.empty()) fail(model_dir, "a chat_template (tokenizer_config.json or chat_template.jinja)", "none");
    return from_chat_template(chat_template, read_special_tokens(model_dir));
  }
  fail("prompt format", "plain, hh, chat, chatml, llama3 or zephyr", "\"" + name + "\"");
}

std::string PromptFormat::name() const {
  switch (style_) {
    case Style::kPlain: return "plain";
    case Style::kHH: return "hh";
    case Style::kChatML: return "chatml";
    case Style::kLlama3: return "llama3";
    case Style::kZephyr: return "zephyr";
    case Style::kTemplate: return "chat";
  }
  return "";
}

std::string PromptFormat::prompt_text(const std::string& prompt) const {
  return conversation_text({{"user", prompt}});
}

std::string PromptFormat::conversation_text(const std::vector<ChatMessage>& messages) const {
  check_conversation(messages);
  std::string text;
  switch (style_) {
    case Style::kPlain:
      if (messages.size() != 1) fail("plain prompt format", "a single user message", std::to_string(messages.size()) + " messages");
      return "Instruction: " + messages[0].content + "\nResponse:";
    case Style::kHH:
      for (const ChatMessage& m : messages) {
        if (m.role == "system") fail("hh prompt format", "Human and Assistant turns only", "a system message");
        text += (m.role == "user" ? "\n\nHuman: " : "\n\nAssistant: ") + m.content;
      }
      return text + "\n\nAssistant:";
    case Style::kChatML:
      if (messages[0].role != "system" && !default_system_.empty())
        text += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
      for (const ChatMessage& m : messages) text += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      return text + "<|im_start|>assistant\n";
    case Style::kLlama3:
      text = "<|begin_of_text|>";
      for (const ChatMessage& m : messages)
        text += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) + "<|eot_id|>";
      return text + "<|start_header_id|>assistant<|end_header_id|>\n\n";
    case Style::kZephyr:
      for (const ChatMessage& m : messages) text += "<|" + m.role + "|>\n" + m.content + "</s>\n";
      return text + "<|assistant|>\n";
    case Style::kTemplate:
      return template_->render(messages, true);
  }
  return text;
}

PromptFormat::RenderedResponse PromptFormat::render_response(const std::vector<ChatMessage>& messages,
                                                             const std::string& response, const std::string& prompt) const {
  // Where the template puts the assistant's message, and what it writes after it, found with a stand-in message (no
  // whitespace in it, so that a template's trim leaves it whole).
  static const std::string kStandIn = "RLHFCPPRESPONSESTANDIN";
  auto with = [&](const std::string& content) {
    std::vector<ChatMessage> turns = messages;
    turns.push_back({"assistant", content});
    return template_->render(turns, false);
  };
  const std::string probe = with(kStandIn);
  const std::string why = "chat template: expected the conversation rendered with the assistant's reply to start with its "
                          "rendering with add_generation_prompt and to contain the reply";
  size_t at = probe.find(kStandIn, prompt.size());
  if (probe.compare(0, prompt.size(), prompt) != 0 || at == std::string::npos)
    fail(why + ", found a rendering that " + (at == std::string::npos ? "does not contain it" : "starts differently"));
  const std::string before = probe.substr(prompt.size(), at - prompt.size());
  const std::string after = probe.substr(at + kStandIn.size());
  size_t marker_end = 0;
  while (marker_end < after.size() && !std::isspace(static_cast<unsigned char>(after[marker_end]))) ++marker_end;
  const std::string full = with(response);
  if (full.size() < prompt.size() + before.size() + after.size() || full.compare(0, prompt.size(), prompt) != 0 ||
      full.compare(prompt.size(), before.size(), before) != 0 ||
      full.compare(full.size() - after.size(), after.size(), after) != 0)
    fail(why + ", found a rendering of this reply that does not follow the template's pattern for replies");
  RenderedResponse rendered;
  rendered.body = full.substr(prompt.size(), full.size() - prompt.size() - after.size());
  rendered.marker = after.substr(0, marker_end);
  return rendered;
}

std::string PromptFormat::response_text(const std::string& response) const {
  if (style_ == Style::kTemplate) {
    std::vector<ChatMessage> turn{{"user", "x"}};
    return render_response(turn, response, conversation_text(turn)).body;
  }
  bool spaced = style_ == Style::kPlain || style_ == Style::kHH;
  return spaced ? " " + response : response;
}

int64_t PromptFormat::end_of_response_id(const Tokenizer& tokenizer) const {
  switch (style_) {
    case Style::kChatML: return required_token(tokenizer, "<|im_end|>", "chatml");
    case Style::kLlama3: return required_token(tokenizer, "<|eot_id|>", "llama3");
    case Style::kTemplate: {
      std::vector<ChatMessage> turn{{"user", "x"}};
      std::string marker = render_response(turn, "y", conversation_text(turn)).marker;
      int64_t id = marker.empty() ? -1 : tokenizer.token_to_id(marker);
      return id >= 0 ? id : tokenizer.eos_id();
    }
    default: return tokenizer.eos_id();
  }
}

std::vector<int64_t> PromptFormat::stop_ids(const Tokenizer& tokenizer) const {
  std::vector<int64_t> ids;
  for (int64_t id : {end_of_response_id(tokenizer), tokenizer.eos_id()})
    if (id >= 0 && (ids.empty() || ids[0] != id)) ids.push_back(id);
  return ids;
}

PromptTokens PromptFormat::encode(const Tokenizer& tokenizer, const std::string& prompt, const std::string& response,
                                  bool close_response, bool add_bos) const {
  return encode_conversation(tokenizer, {{"user", prompt}}, response, close_response, add_bos);
}

PromptTokens PromptFormat::encode_conversation(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                                               const std::string& response, bool close_response, bool add_bos) const {
  PromptTokens tokens;
  if (style_ == Style::kTemplate) {
    // The template writes BOS where it wants one (bos_token), as transformers' apply_chat_template: no add_bos.
    const std::string prompt = conversation_text(messages);
    tokens.prompt_ids = tokenizer.encode(prompt);
    if (response.empty() && !close_response) return tokens;
    RenderedResponse rendered = render_response(messages, response, prompt);
    tokens.response_ids = tokenizer.encode(rendered.body);
    if (close_response) {
      // The marker as one id when the tokenizer has it as a token (it is what generation stops at), else as text.
      int64_t id = rendered.marker.empty() ? -1 : tokenizer.token_to_id(rendered.marker);
      std::vector<int64_t> marker = id >= 0 ? std::vector<int64_t>{id} : tokenizer.encode(rendered.marker);
      if (rendered.marker.empty()) {
        if (tokenizer.eos_id() < 0) fail("chat prompt format", "a tokenizer with an EOS token to close the response", "none");
        marker = {tokenizer.eos_id()};
      }
      tokens.response_ids.insert(tokens.response_ids.end(), marker.begin(), marker.end());
    }
    return tokens;
  }
  tokens.prompt_ids = tokenizer.encode(conversation_text(messages), add_bos);
  if (!response.empty()) tokens.response_ids = tokenizer.encode(response_text(response));
  if (close_response) {
    int64_t end = end_of_response_id(tokenizer);
    if (end < 0) fail(name() + " prompt format", "a tokenizer with an EOS token to close the response", "none");
    tokens.response_ids.push_back(end);
  }
  return tokens;
}

ConversationTokens PromptFormat::encode_turns(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages) const {
  if (style_ != Style::kTemplate) fail(name() + " prompt format", "a chat template (--prompt_format chat) to train every assistant turn", name());
  if (messages.empty() || messages.back().role != "assistant")
    fail("conversation", "the last message to be the assistant's", messages.empty() ? "none" : "\"" + messages.back().role + "\"");
  ConversationTokens out;
  std::string covered;  // the rendered text that out.ids stand for
  auto append = [&](const std::vector<int64_t>& ids, uint8_t trained) {
    out.ids.insert(out.ids.end(), ids.begin(), ids.end());
    out.trained.insert(out.trained.end(), ids.size(), trained);
  };
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role != "assistant") continue;
    const std::vector<ChatMessage> history(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(i));
    const std::string prompt = conversation_text(history);
    if (prompt.compare(0, covered.size(), covered) != 0)
      fail("chat template", "the conversation up to assistant turn " + std::to_string(i) +
           " to render as it rendered before that turn (so that every assistant reply can be found)",
           "a rendering that writes earlier turns differently once later turns follow; train on the last reply only");
    append(tokenizer.encode(prompt.substr(covered.size())), 0);
    PromptTokens reply = encode_conversation(tokenizer, history, messages[i].content);
    out.last_reply_start = out.ids.size();
    append(reply.response_ids, 1);
    RenderedResponse rendered = render_response(history, messages[i].content, prompt);
    covered = prompt + rendered.body + rendered.marker;
  }
  return out;
}

bool prompt_wants_bos(const Tokenizer& tokenizer) {
  return tokenizer.kind() == "sentencepiece" && tokenizer.bos_id() >= 0;
}

PromptTokens encode_prompt(const Tokenizer& tokenizer, const PromptFormat& format, const std::string& prompt,
                           const std::string& response, bool close_response) {
  return encode_prompt(tokenizer, format, std::vector<ChatMessage>{{"user", prompt}}, response, close_response);
}

PromptTokens encode_prompt(const Tokenizer& tokenizer, const PromptFormat& format,
                           const std::vector<ChatMessage>& messages, const std::string& response, bool close_response) {
  return format.encode_conversation(tokenizer, messages, response, close_response, prompt_wants_bos(tokenizer));
}

std::string read_chat_template(const std::string& model_dir) {
  namespace fs = std::filesystem;
  fs::path dir(model_dir);
  fs::path config = dir / "tokenizer_config.json";
  if (fs::exists(config)) {
    nlohmann::json doc = read_json(config.string());
    if (doc.is_object() && doc.contains("chat_template")) {
      const auto& value = doc["chat_template"];
      if (value.is_string()) return value.get<std::string>();
      if (value.is_array()) {
        for (const auto& entry : value)
          if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
              entry["template"].is_string())
            return entry["template"].get<std::string>();
        fail(config.string() + ": chat_template", "a string or a list holding a \"default\" template", "none named default");
      }
    }
  }
  if (fs::exists(dir / "chat_template.jinja")) return read_file((dir / "chat_template.jinja").string());
  if (fs::exists(dir / "chat_template.json")) {
    auto doc = parse_json_or_discarded(read_file((dir / "chat_template.json").string()));
    if (doc.is_object() && doc.contains("chat_template") && doc["chat_template"].is_string())
      return doc["chat_template"].get<std::string>();
    fail((dir / "chat_template.json").string(), "{\"chat_template\": \"...\"}", "something else");
  }
  return "";
}

}  // namespace rlhf
