// rlhf tokenize: JSONL in on stdin, JSONL out on stdout, one line per input line, in order. Each line is one of
//   {"text": ...}                                    -> {"ids": [...]}   (+ "decoded": decode(ids) with --round_trip)
//   {"ids": [...]} (optional "skip_special": bool)   -> {"text": ...}
//   {"prompt": ..., "response": ...} (--prompt_format) -> {"prompt_ids": [...], "response_ids": [...]}
//   {"messages": [...], "add_generation_prompt": bool (default true)} (--prompt_format chat)
//                                                    -> {"text": the chat template's rendering, "ids": encode(text)},
//                                                       or {"error": message} when the template refuses the conversation
//                                                       (raise_exception), so that one run checks many conversations
//   {"messages": [..., the assistant's], "assistant_mask": true} (--prompt_format chat)
//                                                    -> {"ids": [...], "assistant_mask": [0/1 per id]}: what SFT trains
//                                                       on (every assistant reply with its end-of-turn marker)
// The tool the Python tests use to compare our tokenizers with HF tokenizers / sentencepiece, and a debugging aid.
// A bad line stops with an error naming stdin:LINE (the lines before it are already printed).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

#include "command.h"
#include "common/error.h"
#include "common/json.h"
#include "common/options.h"
#include "tokenizer/prompt_format.h"
#include "tokenizer/tokenizer.h"

namespace rlhf::cli {
namespace {

using json = nlohmann::json;

struct TokenizeArgs {
  std::string tokenizer, prompt_format;
  bool add_bos = false, round_trip = false, skip_special = false, close_response = true;
};

std::string field_string(const json& line, const char* key, const std::string& where, bool required) {
  auto it = line.find(key);
  if (it == line.end()) {
    if (required) fail(where, std::string("a string \"") + key + "\"", "none");
    return "";
  }
  if (!it->is_string()) fail(where, std::string("a string \"") + key + "\"", json_excerpt(*it, 80));
  return it->get<std::string>();
}

void run(const TokenizeArgs& a) {
  auto tokenizer = load_tokenizer(a.tokenizer);
  std::unique_ptr<PromptFormat> format;
  if (!a.prompt_format.empty()) {
    std::string model_dir = std::filesystem::is_directory(a.tokenizer) ? a.tokenizer
                                                                        : std::filesystem::path(a.tokenizer).parent_path().string();
    format = std::make_unique<PromptFormat>(PromptFormat::from_name(a.prompt_format, model_dir));
  }
  std::ios::sync_with_stdio(false);
  std::string text;
  for (size_t number = 1; std::getline(std::cin, text); ++number) {
    const std::string where = "stdin:" + std::to_string(number);
    json line;
    check_json_nesting(text, where);
    try {
      line = json::parse(text);
    } catch (const json::exception& e) {
      fail(where, "a JSON object", text.empty() ? std::string("an empty line") : std::string(e.what()));
    }
    if (!line.is_object()) fail(where, "a JSON object", text.substr(0, 80));
    json out;
    if (line.contains("ids")) {
      const json& ids = line["ids"];
      if (!ids.is_array()) fail(where, "an array \"ids\"", json_excerpt(ids, 80));
      std::vector<int64_t> values;
      for (const json& id : ids) {
        if (!id.is_number_integer()) fail(where, "integer ids", json_excerpt(id));
        values.push_back(id.get<int64_t>());
      }
      bool skip = a.skip_special;
      if (line.contains("skip_special")) {
        if (!line["skip_special"].is_boolean()) fail(where, "\"skip_special\": true or false", json_excerpt(line["skip_special"]));
        skip = line["skip_special"].get<bool>();
      }
      out["text"] = tokenizer->decode(values, skip);
    } else if (format && line.contains("messages")) {
      if (!format->chat_template()) fail(where, "--prompt_format chat for \"messages\"", "--prompt_format " + a.prompt_format);
      if (!line["messages"].is_array()) fail(where, "\"messages\": an array", json_excerpt(line["messages"]));
      bool generation_prompt = true;
      if (line.contains("add_generation_prompt")) {
        if (!line["add_generation_prompt"].is_boolean())
          fail(where, "\"add_generation_prompt\": true or false", json_excerpt(line["add_generation_prompt"]));
        generation_prompt = line["add_generation_prompt"].get<bool>();
      }
      try {
        if (line.contains("assistant_mask") && !line["assistant_mask"].is_boolean())
          fail(where, "\"assistant_mask\": true or false", json_excerpt(line["assistant_mask"]));
        if (line.value("assistant_mask", false)) {
          std::vector<ChatMessage> messages;
          for (const json& m : line["messages"]) {
            if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
                !m["content"].is_string())
              fail(where, "messages {\"role\": string, \"content\": string}", json_excerpt(m));
            messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
          }
          ConversationTokens turns = format->encode_turns(*tokenizer, messages);
          out["ids"] = turns.ids;
          out["assistant_mask"] = turns.trained;
          std::cout << out.dump() << '\n';
          continue;
        }
        std::string text = format->chat_template()->render(nlohmann::ordered_json(line["messages"]), generation_prompt);
        out["text"] = text;
        out["ids"] = tokenizer->encode(text);
      } catch (const Error& e) {
        out["error"] = e.what();
      }
    } else if (format) {
      try {
        PromptTokens tokens = format->encode(*tokenizer, field_string(line, "prompt", where, true),
                                             field_string(line, "response", where, false), a.close_response, a.add_bos);
        out["prompt_ids"] = tokens.prompt_ids;
        out["response_ids"] = tokens.response_ids;
      } catch (const Error& e) {
        std::string message = e.what();
        fail(message.rfind(where, 0) == 0 ? message : where + ": " + message);
      }
    } else {
      try {
        std::vector<int64_t> ids = tokenizer->encode(field_string(line, "text", where, true), a.add_bos);
        out["ids"] = ids;
        if (a.round_trip) out["decoded"] = tokenizer->decode(ids, a.skip_special);
      } catch (const Error& e) {
        std::string message = e.what();
        fail(message.rfind(where, 0) == 0 ? message : where + ": " + message);
      }
    }
    std::cout << out.dump() << '\n';
  }
  std::cout.flush();
}

RegisterCommand reg{{"tokenize", "Tokenize JSONL {\"text\": ...} lines from stdin into {\"ids\": [...]} lines (and back)", [](CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  auto options = std::make_shared<Options>();
  options->add("tokenizer", &a->tokenizer, "tokenizer.json, tokenizer.model, vocab.json+merges.txt folder, or model directory");
  options->add("add_bos", &a->add_bos, "prepend the tokenizer's BOS");
  options->add("prompt_format", &a->prompt_format,
               "read {\"prompt\", \"response\"} and write prompt_ids/response_ids: plain | hh | chatml | llama3 | zephyr | chat");
  options->add("close_response", &a->close_response, "with --prompt_format: end response_ids with the end-of-turn id");
  options->add("round_trip", &a->round_trip, "also write \"decoded\": decode(ids) for each text");
  options->add("skip_special", &a->skip_special, "decoding leaves special tokens out (per line: \"skip_special\")");
  options->attach(app);
  app.callback([a, options, &app] {
    options->check_extras(app);
    check(!a->tokenizer.empty(), "tokenize: --tokenizer PATH is required");
    run(*a);
  });
}}};

}  // namespace
}  // namespace rlhf::cli
