// rlhf chat-template: renders chat templates with our Jinja subset, JSONL in on stdin, JSONL out on stdout, one line
// per input line:
//   {"messages": [...], "add_generation_prompt": bool (default false, as transformers),
//    "chat_template": "..." (default: --model's), "special_tokens": {"bos_token": ...} (default: --model's),
//    "variables": {...} (more template variables, e.g. "date_string")}
//   -> {"text": rendered} or {"error": message} (a template that refuses the conversation or is outside the subset)
// For checking a model's template before training on it, and for the tests that compare our rendering with Jinja's.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

#include "command.h"
#include "io/hf_cache.h"
#include "common/error.h"
#include "common/json.h"
#include "common/options.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/prompt_format.h"

namespace rlhf::cli {
namespace {

using json = nlohmann::ordered_json;

void run(const std::string& model) {
  std::string default_template = model.empty() ? "" : read_chat_template(model);
  SpecialTokens default_tokens = model.empty() ? SpecialTokens{} : read_special_tokens(model);
  std::ios::sync_with_stdio(false);
  std::string text;
  for (size_t number = 1; std::getline(std::cin, text); ++number) {
    const std::string where = "stdin:" + std::to_string(number);
    json line = parse_json<json>(text, where);
    if (!line.is_object() || !line.contains("messages") || !line["messages"].is_array())
      fail(where, "a JSON object with \"messages\": [...]", text.substr(0, 80));
    json out;
    try {
      std::string source = default_template;
      if (line.contains("chat_template")) {
        if (!line["chat_template"].is_string()) fail(where, "\"chat_template\": a string", json_excerpt(line["chat_template"]));
        source = line["chat_template"].get<std::string>();
      }
      if (source.empty()) fail(where, "a chat template (--model DIR, or \"chat_template\" in the line)", "none");
      SpecialTokens tokens = default_tokens;
      if (line.contains("special_tokens")) {
        tokens.clear();
        for (const auto& [name, value] : line["special_tokens"].items())
          if (value.is_string()) tokens.emplace_back(name, value.get<std::string>());
      }
      if (line.contains("add_generation_prompt") && !line["add_generation_prompt"].is_boolean())
        fail(where, "\"add_generation_prompt\": true or false", json_excerpt(line["add_generation_prompt"]));
      if (line.contains("special_tokens") && !line["special_tokens"].is_object())
        fail(where, "\"special_tokens\": an object", json_excerpt(line["special_tokens"]));
      if (line.contains("variables") && !line["variables"].is_object())
        fail(where, "\"variables\": an object", json_excerpt(line["variables"]));
      const bool generation_prompt = line.value("add_generation_prompt", false);
      json variables = line.contains("variables") ? line["variables"] : json::object();
      out["text"] = ChatTemplate(source, tokens).render(line["messages"], generation_prompt, variables);
    } catch (const Error& e) {
      out["error"] = e.what();
    }
    std::cout << out.dump() << '\n';
  }
  std::cout.flush();
}

RegisterCommand reg{{"chat-template", "Render chat templates (JSONL {\"messages\": [...]} lines from stdin) with our Jinja subset", [](CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto options = std::make_shared<Options>();
  options->add("model", model.get(), "model directory whose chat_template and special tokens to use (optional)");
  options->attach(app);
  app.callback([model, options, &app] {
    options->check_extras(app);
    run(model->empty() ? *model : resolve_model_path(*model));  // a Hub id in the local cache, too
  });
}}};

}  // namespace
}  // namespace rlhf::cli
