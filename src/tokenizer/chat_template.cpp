#include "tokenizer/chat_template.h"

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "common/json.h"
#include "tokenizer/jinja.h"

namespace rlhf {
namespace {

using json = nlohmann::ordered_json;

jinja::Value from_json(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return jinja::Value::none();
    case json::value_t::boolean: return jinja::Value::from(j.get<bool>());
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return jinja::Value::from(j.get<int64_t>());
    case json::value_t::number_float: return jinja::Value::from(j.get<double>());
    case json::value_t::string: return jinja::Value::from(j.get<std::string>());
    case json::value_t::array: {
      jinja::List list;
      for (const json& item : j) list.push_back(from_json(item));
      return jinja::Value::from(std::move(list));
    }
    case json::value_t::object: {
      jinja::Dict dict;
      for (auto it = j.begin(); it != j.end(); ++it) dict.emplace_back(it.key(), from_json(it.value()));
      return jinja::Value::from(std::move(dict));
    }
    default: return jinja::Value::none();
  }
}

}  // namespace

ChatTemplate::ChatTemplate(const std::string& source, SpecialTokens special_tokens)
    : template_(jinja::parse(source)), special_tokens_(std::move(special_tokens)) {}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  json list = json::array();
  for (const ChatMessage& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
  return render(list, add_generation_prompt);
}

std::string ChatTemplate::render(const json& messages, bool add_generation_prompt, const json& extra) const {
  // The variables of transformers' render call, in its order: special tokens, then messages, tools, documents,
  // add_generation_prompt, then the caller's extras (which may override any of them).
  jinja::Dict variables;
  for (const auto& [name, token] : special_tokens_) variables.emplace_back(name, jinja::Value::from(token));
  variables.emplace_back("messages", from_json(messages));
  variables.emplace_back("tools", jinja::Value::none());
  variables.emplace_back("documents", jinja::Value::none());
  variables.emplace_back("add_generation_prompt", jinja::Value::from(add_generation_prompt));
  if (extra.is_object())
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      auto found = std::find_if(variables.begin(), variables.end(), [&](const auto& v) { return v.first == it.key(); });
      if (found != variables.end()) found->second = from_json(it.value());
      else variables.emplace_back(it.key(), from_json(it.value()));
    }
  return jinja::render(*template_, variables);
}

SpecialTokens read_special_tokens(const std::string& model_dir) {
  namespace fs = std::filesystem;
  static const char* kNames[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};
  SpecialTokens tokens;
  for (const char* file : {"tokenizer_config.json", "special_tokens_map.json"}) {
    fs::path path = fs::path(model_dir) / file;
    if (model_dir.empty() || !fs::exists(path)) continue;
    nlohmann::json doc = read_json(path.string());
    if (!doc.is_object()) continue;
    for (const char* name : kNames) {
      if (std::any_of(tokens.begin(), tokens.end(), [&](const auto& t) { return t.first == name; })) continue;
      auto it = doc.find(name);
      if (it == doc.end()) continue;
      if (it->is_string()) tokens.emplace_back(name, it->get<std::string>());
      else if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
        tokens.emplace_back(name, (*it)["content"].get<std::string>());
    }
  }
  return tokens;
}

}  // namespace rlhf
