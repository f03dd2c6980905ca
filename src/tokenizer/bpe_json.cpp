// Reading and writing byte-level BPE files: HF's tokenizer.json, and GPT-2's vocab.json + merges.txt.
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "tokenizer/bpe.h"
#include "tokenizer/utf8.h"

namespace rlhf {

namespace {

using json = nlohmann::json;

std::string describe(const json& value) { return json_excerpt(value, 120); }

const json& require(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) fail(where, std::string("a \"") + key + "\" field", "none");
  return *it;
}

bool flag(const json& object, const char* key, bool fallback, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail(where + "." + key, "true or false", describe(*it));
  return it->get<bool>();
}

std::vector<std::pair<std::string, int64_t>> read_vocab(const json& vocab, const std::string& where) {
  if (!vocab.is_object()) fail(where, "an object of token -> id", describe(vocab));
  // No token to encode any text into: every prompt would be empty (it was torch's "select(): index -1 out of range").
  if (vocab.empty()) fail(where, "an object of token -> id with at least one token", "an empty one");
  std::vector<std::pair<std::string, int64_t>> result;
  result.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer()) fail(where + "[\"" + it.key() + "\"]", "an integer id", describe(it.value()));
    result.emplace_back(it.key(), it.value().get<int64_t>());
  }
  return result;
}

// "a b" (HF's older string form, exactly one space) or ["a", "b"] (the pair form tokenizers >= 0.20 writes).
std::pair<std::string, std::string> read_merge(const json& merge, const std::string& where) {
  if (merge.is_string()) {
    const std::string line = merge.get<std::string>();
    size_t space = line.find(' ');
    if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos || space == 0 || space + 1 == line.size())
      fail(where, "\"left right\" (two tokens, one space)", describe(merge));
    return {line.substr(0, space), line.substr(space + 1)};
  }
  if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string())
    return {merge[0].get<std::string>(), merge[1].get<std::string>()};
  fail(where, "\"left right\" or [\"left\", \"right\"]", describe(merge));
}

void check_decoder(const json& decoder, const std::string& where) {
  if (decoder.is_object() && decoder.value("type", "") == "ByteLevel") return;
  if (decoder.is_object() && decoder.value("type", "") == "Sequence" && decoder.contains("decoders") &&
      decoder["decoders"].is_array() && !decoder["decoders"].empty()) {
    for (size_t i = 0; i < decoder["decoders"].size(); ++i)
      check_decoder(decoder["decoders"][i], where + ".decoders[" + std::to_string(i) + "]");
    return;
  }
  std::string found = decoder.is_object() && decoder.contains("type") ? "unsupported decoder type " + describe(decoder["type"])
                                                                      : describe(decoder);
  fail(where, "a ByteLevel decoder", found);
}

// The first token of a TemplateProcessing post-processor's single-sequence template, when it is a special token
// (Llama-3's "<|begin_of_text|>"): that is the BOS HF adds.
int64_t template_bos(const json& post_processor, const BpeTokenizer& tokenizer) {
  const json* processor = &post_processor;
  if (processor->is_object() && processor->value("type", "") == "Sequence" && processor->contains("processors")) {
    for (const json& p : (*processor)["processors"]) {
      int64_t id = template_bos(p, tokenizer);
      if (id >= 0) return id;
    }
    return -1;
  }
  if (!processor->is_object() || processor->value("type", "") != "TemplateProcessing") return -1;
  auto single = processor->find("single");
  if (single == processor->end() || !single->is_array() || single->empty()) return -1;
  const json& first = (*single)[0];
  if (!first.is_object() || !first.contains("SpecialToken") || !first["SpecialToken"].contains("id")) return -1;
  const json& name = first["SpecialToken"]["id"];
  if (!name.is_string()) return -1;
  auto tokens = processor->find("special_tokens");
  if (tokens != processor->end() && tokens->contains(name.get<std::string>())) {
    const json& entry = (*tokens)[name.get<std::string>()];
    if (entry.contains("ids") && entry["ids"].is_array() && entry["ids"].size() == 1 && entry["ids"][0].is_number_integer())
      return entry["ids"][0].get<int64_t>();
  }
  return tokenizer.token_to_id(name.get<std::string>());
}

// BOS/EOS by the names the common byte-level families use, for a tokenizer.json seen without its tokenizer_config.json.
void guess_special_ids(BpeTokenizer* tokenizer, int64_t template_bos_id) {
  auto first_of = [&](std::initializer_list<const char*> names) {
    for (const char* name : names) {
      int64_t id = tokenizer->token_to_id(name);
      if (id >= 0 && tokenizer->is_special(id)) return id;
    }
    return int64_t{-1};
  };
  int64_t bos = template_bos_id >= 0 ? template_bos_id : first_of({"<|begin_of_text|>", "<s>", "<|endoftext|>"});
  int64_t eos = first_of({"<|end_of_text|>", "</s>", "<|endoftext|>"});
  tokenizer->set_special_ids(bos, eos, -1);
}

}  // namespace

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_json_file(const std::string& path) {
  if (!file_exists(path)) fail(path, "a tokenizer.json file", "no such file");
  return from_json_text(read_file(path), path);
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_json_text(const std::string& text, const std::string& where) {
  json root = parse_json(text, where);
  try {
    if (!root.is_object()) fail(where, "a JSON object (tokenizer.json)", describe(root));
    const json& model = require(root, "model", where);
    if (!model.is_object()) fail(where + ": model", "an object", describe(model));
    std::string type = model.contains("type") && model["type"].is_string() ? model["type"].get<std::string>()
                       : model.contains("merges")                        ? "BPE"
                                                                         : "";
    if (type != "BPE")
      fail(where + ": model.type", "BPE (byte-level BPE; SentencePiece models load from tokenizer.model)",
           type.empty() ? std::string("no type") : "unsupported model type \"" + type + "\"");
    if (model.contains("dropout") && !model["dropout"].is_null() &&
        !(model["dropout"].is_number() && model["dropout"].get<double>() == 0.0))
      fail(where + ": model.dropout", "null (BPE dropout is a training-time regularizer)", describe(model["dropout"]));
    for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (model.contains(affix) && !model[affix].is_null() && !(model[affix].is_string() && model[affix].get<std::string>().empty()))
        fail(where + ": model." + affix, "null (byte-level BPE has no word affixes)", "unsupported " + describe(model[affix]));
    }
    if (flag(model, "byte_fallback", false, where + ": model"))
      fail(where + ": model.byte_fallback", "false (byte-level BPE)",
           "unsupported byte_fallback (a SentencePiece conversion: load its tokenizer.model instead)");

    Parts parts;
    parts.vocab = read_vocab(require(model, "vocab", where + ": model"), where + ": model.vocab");
    const json& merges = require(model, "merges", where + ": model");
    if (!merges.is_array()) fail(where + ": model.merges", "an array", describe(merges));
    parts.merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i)
      parts.merges.push_back(read_merge(merges[i], where + ": model.merges[" + std::to_string(i) + "]"));
    parts.ignore_merges = flag(model, "ignore_merges", false, where + ": model");
    parts.fuse_unk = flag(model, "fuse_unk", false, where + ": model");
    if (model.contains("unk_token") && !model["unk_token"].is_null()) {
      if (!model["unk_token"].is_string()) fail(where + ": model.unk_token", "a string or null", describe(model["unk_token"]));
      parts.unk_token = model["unk_token"].get<std::string>();
    }

    if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
      const json& added = root["added_tokens"];
      if (!added.is_array()) fail(where + ": added_tokens", "an array", describe(added));
      for (size_t i = 0; i < added.size(); ++i)
        parts.added_tokens.push_back(AddedToken::from_json(added[i], where + ": added_tokens[" + std::to_string(i) + "]"));
    }
    parts.normalizer = Normalizer::from_json(root.value("normalizer", json()), where + ": normalizer");
    parts.pre_tokenizer = PreTokenizer::from_json(root.value("pre_tokenizer", json()), where + ": pre_tokenizer");
    check_decoder(root.value("decoder", json()), where + ": decoder");
    json post_processor = root.value("post_processor", json());
    parts.post_processor = nlohmann::ordered_json::parse(post_processor.dump());

    auto tokenizer = std::make_unique<BpeTokenizer>(std::move(parts), where);
    guess_special_ids(tokenizer.get(), template_bos(post_processor, *tokenizer));
    return tokenizer;
  } catch (const json::exception& e) {  // a field of an unexpected JSON type that the checks above did not foresee
    fail(where, "a well-formed tokenizer.json", e.what());
  }
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_vocab_merges(const std::string& vocab_path, const std::string& merges_path) {
  for (const auto& path : {vocab_path, merges_path})
    if (!file_exists(path)) fail(path, "a file", "no such file");
  Parts parts;
  parts.vocab = read_vocab(parse_json(read_file(vocab_path), vocab_path), vocab_path);
  std::istringstream lines(read_file(merges_path));
  std::string line;
  std::vector<size_t> line_numbers;
  for (size_t number = 1; std::getline(lines, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("#version", 0) == 0)) continue;
    size_t space = line.find(' ');
    if (space == std::string::npos || space == 0 || line.find(' ', space + 1) != std::string::npos || space + 1 == line.size())
      fail(merges_path + ":" + std::to_string(number), "\"left right\" (two tokens, one space)", "\"" + line + "\"");
    parts.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    line_numbers.push_back(number);
  }
  // Check merges here to report merges.txt:LINE (the constructor only knows merge ranks).
  std::unordered_map<std::string, int64_t> known(parts.vocab.begin(), parts.vocab.end());
  for (size_t i = 0; i < parts.merges.size(); ++i) {
    const auto& [left, right] = parts.merges[i];
    for (const std::string& token : {left, right, left + right})
      if (!known.count(token))
        fail(merges_path + ":" + std::to_string(line_numbers[i]), "tokens of " + vocab_path, "unknown token \"" + token + "\"");
  }
  auto end_of_text = known.find("<|endoftext|>");
  if (end_of_text != known.end()) {
    AddedToken token;
    token.id = end_of_text->second;
    token.content = "<|endoftext|>";
    token.special = true;
    parts.added_tokens.push_back(token);
  }
  auto tokenizer = std::make_unique<BpeTokenizer>(std::move(parts), merges_path);
  int64_t eot = end_of_text == known.end() ? -1 : end_of_text->second;
  tokenizer->set_special_ids(eot, eot, -1);
  return tokenizer;
}

std::string BpeTokenizer::to_json() const {
  using ordered = nlohmann::ordered_json;
  ordered root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  std::vector<AddedToken> added = added_tokens_;
  std::sort(added.begin(), added.end(), [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
  root["added_tokens"] = ordered::array();
  for (const AddedToken& token : added) root["added_tokens"].push_back(token.to_json());
  root["normalizer"] = normalizer_.to_json();
  root["pre_tokenizer"] = pre_tokenizer_.to_json();
  root["post_processor"] = post_processor_;
  root["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  ordered model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = unk_token_ ? ordered(*unk_token_) : ordered(nullptr);
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = fuse_unk_;
  model["byte_fallback"] = false;
  model["ignore_merges"] = ignore_merges_;
  std::vector<std::pair<int32_t, const std::string*>> by_id;
  for (const auto& [spelling, id] : model_vocab_) by_id.emplace_back(id, &spelling);
  std::sort(by_id.begin(), by_id.end());
  ordered vocab = ordered::object();
  for (const auto& [id, spelling] : by_id) vocab[*spelling] = id;
  model["vocab"] = std::move(vocab);
  ordered merges = ordered::array();
  for (const auto& [left, right] : merge_list_) merges.push_back({left, right});
  model["merges"] = std::move(merges);
  root["model"] = std::move(model);
  return root.dump(2, ' ', false, nlohmann::json::error_handler_t::strict) + "\n";
}

void BpeTokenizer::save(const std::string& path) const { write_file_atomic(path, to_json()); }

void BpeTokenizer::save_pretrained(const std::string& dir) const {
  make_dirs(dir);
  save(dir + "/tokenizer.json");
  nlohmann::ordered_json config;
  config["tokenizer_class"] = "PreTrainedTokenizerFast";
  auto name = [&](int64_t id) { return id >= 0 ? nlohmann::ordered_json(id_to_token(id)) : nlohmann::ordered_json(nullptr); };
  config["bos_token"] = name(bos_id_);
  config["eos_token"] = name(eos_id_);
  config["pad_token"] = name(pad_id_);
  config["add_bos_token"] = false;
  config["clean_up_tokenization_spaces"] = false;
  write_file_atomic(dir + "/tokenizer_config.json", config.dump(2) + "\n");
}

}  // namespace rlhf
