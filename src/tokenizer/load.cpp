// load_tokenizer: which file of a path or model directory holds the tokenizer, and the special tokens the directory's
// tokenizer_config.json / special_tokens_map.json name.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "tokenizer/bpe.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace rlhf {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A special-token entry is a string, an AddedToken object ({"content": ...}), or null (explicitly none).
bool token_content(const json& value, std::string* content) {
  if (value.is_string()) {
    *content = value.get<std::string>();
    return true;
  }
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    *content = value["content"].get<std::string>();
    return true;
  }
  return false;
}

// Added tokens a model directory declares outside tokenizer.json: tokenizer_config.json's added_tokens_decoder
// ({"32000": {"content": ..., "special": ...}}) and added_tokens.json ({"<tok>": 32000}).
std::vector<AddedToken> directory_added_tokens(const fs::path& dir, const json& config) {
  std::vector<AddedToken> tokens;
  std::string where = (dir / "tokenizer_config.json").string();
  if (config.is_object() && config.contains("added_tokens_decoder") && config["added_tokens_decoder"].is_object()) {
    for (auto it = config["added_tokens_decoder"].begin(); it != config["added_tokens_decoder"].end(); ++it) {
      json spec = it.value();
      if (!spec.is_object()) fail(where + ": added_tokens_decoder[\"" + it.key() + "\"]", "an object", json_excerpt(spec));
      try {
        spec["id"] = std::stoll(it.key());
      } catch (const std::exception&) {
        fail(where + ": added_tokens_decoder", "integer ids as keys", "\"" + it.key() + "\"");
      }
      tokens.push_back(AddedToken::from_json(spec, where + ": added_tokens_decoder[\"" + it.key() + "\"]"));
    }
  }
  fs::path added_path = dir / "added_tokens.json";
  if (fs::exists(added_path)) {
    json added = read_json(added_path.string());
    if (!added.is_object()) fail(added_path.string(), "an object of token -> id", json_excerpt(added, 100));
    for (auto it = added.begin(); it != added.end(); ++it) {
      if (!it.value().is_number_integer()) fail(added_path.string() + ": \"" + it.key() + "\"", "an integer id", json_excerpt(it.value()));
      AddedToken token;
      token.id = it.value().get<int64_t>();
      token.content = it.key();
      bool known = false;
      for (const AddedToken& t : tokens) known = known || t.id == token.id;
      if (!known) tokens.push_back(token);
    }
  }
  return tokens;
}

// bos/eos/pad from special_tokens_map.json, then tokenizer_config.json (which wins). A key that is present decides,
// null included; a key that is absent keeps what the tokenizer file itself implied.
template <typename T>
void apply_special_tokens(T* tokenizer, const fs::path& dir, const json& config) {
  int64_t ids[3] = {tokenizer->bos_id(), tokenizer->eos_id(), tokenizer->pad_id()};
  const char* keys[3] = {"bos_token", "eos_token", "pad_token"};
  for (const char* file : {"special_tokens_map.json", "tokenizer_config.json"}) {
    fs::path path = dir / file;
    if (!fs::exists(path)) continue;
    json doc = std::string(file) == "tokenizer_config.json" ? config : read_json(path.string());
    if (!doc.is_object()) fail(path.string(), "a JSON object", json_excerpt(doc, 100));
    for (int k = 0; k < 3; ++k) {
      if (!doc.contains(keys[k])) continue;
      const json& value = doc[keys[k]];
      std::string content;
      if (value.is_null()) {
        ids[k] = -1;
      } else if (token_content(value, &content)) {
        int64_t id = tokenizer->token_to_id(content);
        if (id < 0) fail(path.string() + ": " + keys[k], "a token of the tokenizer's vocabulary", "\"" + content + "\"");
        ids[k] = id;
      } else {
        fail(path.string() + ": " + keys[k], "a token string, {\"content\": ...} or null", json_excerpt(value, 100));
      }
    }
  }
  tokenizer->set_special_ids(ids[0], ids[1], ids[2]);
}

bool looks_like_json(const std::string& path) {
  std::string head = read_file(path).substr(0, 64);
  size_t i = head.find_first_not_of(" \t\r\n");
  return i != std::string::npos && head[i] == '{';
}

std::unique_ptr<Tokenizer> load_directory(const fs::path& dir) {
  fs::path tokenizer_json = dir / "tokenizer.json", model = dir / "tokenizer.model";
  fs::path vocab = dir / "vocab.json", merges = dir / "merges.txt", config_path = dir / "tokenizer_config.json";
  json config = fs::exists(config_path) ? read_json(config_path.string()) : json();

  if (fs::exists(tokenizer_json)) {
    try {
      auto tokenizer = BpeTokenizer::from_json_file(tokenizer_json.string());
      apply_special_tokens(tokenizer.get(), dir, config);
      return tokenizer;
    } catch (const Error&) {
      if (!fs::exists(model)) throw;
      // Llama-2-style directories ship a SentencePiece conversion in tokenizer.json (Metaspace, byte_fallback) that
      // we refuse; their tokenizer.model is the same tokenizer. Fall through to it.
    }
  }
  if (fs::exists(model)) {
    auto tokenizer = SentencePieceTokenizer::from_file(model.string());
    tokenizer->add_tokens(directory_added_tokens(dir, config));
    // HF's LlamaTokenizer: legacy unless the config says false (Llama-2-chat, Mistral and most since do).
    if (config.is_object() && config.contains("legacy") && config["legacy"].is_boolean() && !config["legacy"].get<bool>())
      tokenizer->set_legacy(false);
    apply_special_tokens(tokenizer.get(), dir, config);
    return tokenizer;
  }
  if (fs::exists(vocab) && fs::exists(merges)) {
    auto tokenizer = BpeTokenizer::from_vocab_merges(vocab.string(), merges.string());
    auto added = directory_added_tokens(dir, config);
    if (!added.empty()) {
      // Rebuild with the extra tokens: the parts come back out of the tokenizer.json form.
      json spec = json::parse(tokenizer->to_json());
      for (const AddedToken& token : added) {
        bool present = false;
        for (const auto& existing : spec["added_tokens"]) present = present || existing["id"] == token.id;
        if (!present) spec["added_tokens"].push_back(json::parse(token.to_json().dump()));
      }
      tokenizer = BpeTokenizer::from_json_text(spec.dump(), merges.string());
      int64_t eot = tokenizer->token_to_id("<|endoftext|>");
      tokenizer->set_special_ids(eot, eot, -1);
    }
    apply_special_tokens(tokenizer.get(), dir, config);
    return tokenizer;
  }
  fail(dir.string(), "tokenizer.json, tokenizer.model, or vocab.json + merges.txt", "none of them");
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  fs::path p(path);
  std::error_code error;
  if (fs::is_directory(p, error)) return load_directory(p);
  if (!fs::exists(p, error)) fail(path, "a tokenizer file or model directory", "no such file or directory");
  std::string name = p.filename().string();
  bool json_file = name.size() >= 5 && name.compare(name.size() - 5, 5, ".json") == 0;
  bool model_file = name.size() >= 6 && name.compare(name.size() - 6, 6, ".model") == 0;
  if (json_file || (!model_file && looks_like_json(path))) {
    if (name == "vocab.json") return load_directory(p.parent_path().empty() ? fs::path(".") : p.parent_path());
    return BpeTokenizer::from_json_file(path);
  }
  return SentencePieceTokenizer::from_file(path);
}

}  // namespace rlhf
