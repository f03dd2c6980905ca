// The tokenizer files of an HF model directory read as GGUF tokenizer data (gguf_tokenizer_from_hf_dir, declared in
// gguf_model.h). Only the vocabulary, merges, scores and special ids are read here; tokenizing is src/tokenizer's job.
#include <sentencepiece_processor.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "io/formats/gguf_model.h"

namespace rlhf {

namespace {

using json = nlohmann::json;

// The Split regexes llama.cpp knows by name (its pre-tokenizer table): Llama 3's and Qwen2's differ only in how many
// digits a number chunk takes.
const std::map<std::string, std::string> kKnownSplitRegexes = {
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
     "\\s+(?!\\S)|\\s+",
     "llama-bpe"},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
     "\\s+(?!\\S)|\\s+",
     "qwen2"},
};

// llama.cpp's pre-tokenizer name for tokenizer.json's pre_tokenizer, or "" when it is none we recognise.
std::string recognise_pre(const json& pre) {
  if (!pre.is_object()) return "";
  std::string type = pre.value("type", "");
  if (type == "ByteLevel" && pre.value("use_regex", true)) return "gpt-2";
  if (type != "Sequence" || !pre.contains("pretokenizers") || !pre["pretokenizers"].is_array()) return "";
  const json& parts = pre["pretokenizers"];
  if (parts.size() != 2 || !parts[0].is_object() || !parts[1].is_object()) return "";
  if (parts[0].value("type", "") != "Split" || parts[1].value("type", "") != "ByteLevel") return "";
  if (parts[1].value("use_regex", true)) return "";
  const json& pattern = parts[0].contains("pattern") ? parts[0]["pattern"] : json();
  if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string()) return "";
  auto it = kKnownSplitRegexes.find(pattern["Regex"].get<std::string>());
  return it == kKnownSplitRegexes.end() ? "" : it->second;
}

// llama.cpp sizes the token embedding (and the logits) from the length of tokenizer.ggml.tokens, which the writer pads
// to config.json's vocab_size: an id at or past vocab_size has no embedding row, whatever GGUF's 64-bit array lengths
// or llama.cpp's int32 token ids allow. Checked here, before the list grows to the id (an id near 2^63 would allocate).
void put_token(GgufTokenizerData& data, int64_t id, const std::string& token, GgufTokenType type, int64_t vocab_size,
               const std::string& where) {
  if (id < 0 || id >= vocab_size)
    fail(where, "token ids from 0 to " + std::to_string(vocab_size - 1) + " (config.json's vocab_size " +
                    std::to_string(vocab_size) + ": the model has no embedding row past it)",
         "'" + token + "' with id " + std::to_string(id));
  if (static_cast<int64_t>(data.tokens.size()) <= id) {
    // Ids nobody uses are padding, as llama.cpp's converter fills them.
    for (int64_t i = data.tokens.size(); i <= id; ++i) {
      data.tokens.push_back("[PAD" + std::to_string(i) + "]");
      data.token_types.push_back(static_cast<int32_t>(GgufTokenType::Unused));
    }
  }
  data.tokens[id] = token;
  data.token_types[id] = static_cast<int32_t>(type);
}

GgufTokenizerData from_tokenizer_json(const std::string& path, int64_t vocab_size) {
  json j = read_json(path);
  const json& model = j.contains("model") ? j["model"] : json();
  if (!model.is_object() || model.value("type", "BPE") != "BPE")
    fail(path, "a BPE model (model.type \"BPE\")", model.is_object() ? "'" + model.value("type", "") + "'" : "none");
  if (!model.contains("vocab") || !model["vocab"].is_object()) fail(path, "model.vocab, an object", "none");
  GgufTokenizerData data;
  data.model = "gpt2";
  data.pre = recognise_pre(j.contains("pre_tokenizer") ? j["pre_tokenizer"] : json());
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    if (!it.value().is_number_integer()) fail(path, "integer ids in model.vocab", json_excerpt(it.value()));
    put_token(data, it.value().get<int64_t>(), it.key(), GgufTokenType::Normal, vocab_size, path);
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const auto& added : j["added_tokens"]) {
      if (!added.is_object() || !added.contains("id") || !added["id"].is_number_integer() || !added.contains("content") ||
          !added["content"].is_string())
        fail(path, "added_tokens entries {id, content, special}", json_excerpt(added));
      bool special = added.value("special", false);
      put_token(data, added["id"].get<int64_t>(), added["content"].get<std::string>(),
                special ? GgufTokenType::Control : GgufTokenType::UserDefined, vocab_size, path);
    }
  if (model.contains("merges") && model["merges"].is_array())
    for (const auto& merge : model["merges"]) {
      if (merge.is_string()) data.merges.push_back(merge.get<std::string>());
      else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string())
        data.merges.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
      else fail(path, "merges as \"a b\" or [\"a\", \"b\"]", json_excerpt(merge));
    }
  return data;
}

GgufTokenizerData from_vocab_and_merges(const std::string& dir, int64_t vocab_size) {
  GgufTokenizerData data;
  data.model = "gpt2";
  data.pre = "gpt-2";  // the files GPT-2 shipped: its own regex
  json vocab = read_json(dir + "/vocab.json");
  if (!vocab.is_object()) fail(dir + "/vocab.json", "an object {token: id}", vocab.type_name());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer()) fail(dir + "/vocab.json", "integer ids", json_excerpt(it.value()));
    put_token(data, it.value().get<int64_t>(), it.key(), GgufTokenType::Normal, vocab_size, dir + "/vocab.json");
  }
  std::ifstream in(dir + "/merges.txt");
  if (!in) fail(dir + "/merges.txt", "a readable file", "none");
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    size_t space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == line.size() || line.find(' ', space + 1) != line.npos)
      fail(dir + "/merges.txt:" + std::to_string(number), "a merge \"left right\"", "'" + line + "'");
    data.merges.push_back(line);
  }
  return data;
}

GgufTokenizerData from_sentencepiece(const std::string& path) {
  sentencepiece::SentencePieceProcessor sp;
  auto status = sp.Load(path);
  if (!status.ok()) fail(path, "a SentencePiece model", status.ToString());
  GgufTokenizerData data;
  data.model = "llama";
  data.pre = "default";
  for (int i = 0; i < sp.GetPieceSize(); ++i) {
    GgufTokenType type = GgufTokenType::Normal;
    if (sp.IsUnknown(i)) type = GgufTokenType::Unknown;
    else if (sp.IsControl(i)) type = GgufTokenType::Control;
    else if (sp.IsUnused(i)) type = GgufTokenType::Unused;
    else if (sp.IsByte(i)) type = GgufTokenType::Byte;
    data.tokens.push_back(sp.IdToPiece(i));
    data.token_types.push_back(static_cast<int32_t>(type));
    data.scores.push_back(sp.GetScore(i));
  }
  data.unk_id = sp.unk_id();
  data.bos_id = sp.bos_id();
  data.eos_id = sp.eos_id();
  data.pad_id = sp.pad_id();
  return data;
}

int64_t id_of(const GgufTokenizerData& data, const std::string& token) {
  for (size_t i = 0; i < data.tokens.size(); ++i)
    if (data.tokens[i] == token) return static_cast<int64_t>(i);
  return -1;
}

// tokenizer_config.json names special tokens as strings or as {"content": ...}.
std::string special_token(const json& config, const char* key) {
  if (!config.contains(key)) return "";
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

}  // namespace

GgufTokenizerData gguf_tokenizer_from_hf_dir(const std::string& dir, const ModelConfig& config, const std::string& pre) {
  GgufTokenizerData data;
  bool bpe_json = false;
  if (file_exists(dir + "/tokenizer.json")) {
    json j = read_json(dir + "/tokenizer.json");
    bpe_json = j.contains("model") && j["model"].is_object() && j["model"].value("type", "BPE") == "BPE" &&
               !j["model"].value("byte_fallback", false);
  }
  if (bpe_json) data = from_tokenizer_json(dir + "/tokenizer.json", config.vocab_size);
  else if (file_exists(dir + "/tokenizer.model")) data = from_sentencepiece(dir + "/tokenizer.model");
  else if (file_exists(dir + "/vocab.json") && file_exists(dir + "/merges.txt"))
    data = from_vocab_and_merges(dir, config.vocab_size);
  else if (file_exists(dir + "/tokenizer.json"))
    data = from_tokenizer_json(dir + "/tokenizer.json", config.vocab_size);  // its error
  else fail(dir, "tokenizer.json, tokenizer.model or vocab.json + merges.txt", "none of them");

  if (!pre.empty()) data.pre = pre;
  if (data.pre.empty())
    fail(dir + "/tokenizer.json", "a pre-tokenizer llama.cpp knows (ByteLevel = gpt-2, or the Llama-3 / Qwen2 Split)",
         "another one; name it with --pre (llama.cpp's names: gpt-2, llama-bpe, qwen2, ...)");

  // Special ids: config.json's, then tokenizer_config.json's tokens where they name one.
  if (config.bos_token_id >= 0) data.bos_id = config.bos_token_id;
  if (config.eos_token_id >= 0) data.eos_id = config.eos_token_id;
  if (config.pad_token_id >= 0) data.pad_id = config.pad_token_id;
  if (file_exists(dir + "/tokenizer_config.json")) {
    json tc = read_json(dir + "/tokenizer_config.json");
    if (tc.is_object()) {
      auto set = [&](const char* key, int64_t* id) {
        int64_t found = id_of(data, special_token(tc, key));
        if (found >= 0) *id = found;
      };
      set("bos_token", &data.bos_id);
      set("eos_token", &data.eos_id);
      set("pad_token", &data.pad_id);
      set("unk_token", &data.unk_id);
      if (tc.contains("add_bos_token") && tc["add_bos_token"].is_boolean()) data.add_bos = tc["add_bos_token"].get<bool>();
      if (tc.contains("add_eos_token") && tc["add_eos_token"].is_boolean()) data.add_eos = tc["add_eos_token"].get<bool>();
      if (tc.contains("chat_template") && tc["chat_template"].is_string())
        data.chat_template = tc["chat_template"].get<std::string>();
    }
  }
  // BOS/EOS of a BPE vocabulary are control tokens even where the files list them as plain vocabulary (GPT-2's).
  if (data.model == "gpt2")
    for (int64_t id : {data.bos_id, data.eos_id})
      if (id >= 0 && id < static_cast<int64_t>(data.token_types.size()) &&
          data.token_types[id] == static_cast<int32_t>(GgufTokenType::Normal))
        data.token_types[id] = static_cast<int32_t>(GgufTokenType::Control);
  return data;
}

}  // namespace rlhf
