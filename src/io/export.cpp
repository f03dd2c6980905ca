#include "io/export.h"

#include <cctype>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "io/formats/gguf_model.h"
#include "io/model_dir.h"
#include "tokenizer/tokenizer.h"

namespace rlhf {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;  // keeps the key order of the files we patch (tokenizer.json is read by people)

namespace {

// Tokenizer and chat-template files transformers reads from a model directory; copied when present.
const char* const kTokenizerFiles[] = {"tokenizer.json",     "tokenizer_config.json", "special_tokens_map.json",
                                       "vocab.json",         "merges.txt",            "tokenizer.model",
                                       "added_tokens.json",  "chat_template.jinja",   "chat_template.json"};

// The pad token we add to a reward model's tokenizer when it has none distinct from EOS.
const char* const kPadToken = "<|pad|>";

void check_model_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("--model " + dir, "a model directory (config.json + model.safetensors)", "no such directory");
  if (!file_exists(dir + "/config.json")) fail(dir, "a model directory with config.json", "no config.json");
}

void check_out_is_not_model_dir(const std::string& model_dir, const std::string& out) {
  std::error_code ec1, ec2;
  const fs::path a = fs::weakly_canonical(model_dir, ec1), b = fs::weakly_canonical(out, ec2);
  if (!ec1 && !ec2 && a == b)
    fail("--out " + out, "a path other than the model directory (an export never overwrites its source)", "the same path");
}

ordered_json read_json_object(const std::string& path) {
  ordered_json j = read_json<ordered_json>(path);
  if (!j.is_object()) fail(path, "a JSON object", j.type_name());
  return j;
}

// "float32" | "bfloat16" | "float16", the names config.json's torch_dtype uses; aliases (fp32, bf16, fp16) accepted.
std::string canonical_dtype(const std::string& name) {
  const torch::Dtype d = parse_torch_dtype(name);
  return d == torch::kBFloat16 ? "bfloat16" : d == torch::kFloat16 ? "float16" : "float32";
}

bool has_tokenizer(const std::string& dir) {
  return file_exists(dir + "/tokenizer.json") || file_exists(dir + "/tokenizer.model") ||
         (file_exists(dir + "/vocab.json") && file_exists(dir + "/merges.txt"));
}

// Old weight files in `out` (an earlier export there) would shadow or sit beside the new ones: a stale index next to a
// new single file, shards of another count. They go first; config.json is written last, so an interrupted export is
// visibly incomplete rather than a mix of two.
void remove_previous_weights(const std::string& out) {
  std::error_code ec;
  if (!fs::is_directory(out, ec)) return;
  for (const auto& entry : fs::directory_iterator(out, ec)) {
    const std::string name = entry.path().filename().string();
    const bool shard = name.rfind("model-", 0) == 0 && name.find("-of-") != std::string::npos &&
                       name.size() > 12 && name.compare(name.size() - 12, 12, ".safetensors") == 0;
    if (shard || name == "model.safetensors" || name == "model.safetensors.index.json") fs::remove(entry.path(), ec);
  }
}

int64_t count_shards(const std::string& out) {
  const std::string index = out + "/model.safetensors.index.json";
  if (!file_exists(index)) return 1;
  // The parsed index must outlive the loop: a range-for over read_json_object(index)["weight_map"] iterated a member of
  // a destroyed temporary (heap-use-after-free, found by ASan in test_export's sharded GPT-2 export).
  const ordered_json parsed = read_json_object(index);
  if (!parsed.contains("weight_map") || !parsed["weight_map"].is_object())
    fail(index, "a \"weight_map\" object", parsed.contains("weight_map") ? json_excerpt(parsed["weight_map"]) : "none");
  std::set<std::string> files;
  for (const auto& f : parsed["weight_map"]) {
    if (!f.is_string()) fail(index, "file names in weight_map", json_excerpt(f));
    files.insert(f.get<std::string>());
  }
  return static_cast<int64_t>(files.size());
}

// ---------------------------------------------------------------------------------------------- the reward-model pad
//
// Our reward is the scalar head at the sequence's last token, the EOS that closes the response (PPO.md, "where the RM
// score lands"). transformers' *ForSequenceClassification pools at the last token that is not config.pad_token_id; with
// pad == eos (GPT-2-style tokenizers) it would pool at the token *before* the closing EOS and give another number, and
// with no pad id it refuses batches. So an exported reward / value model gets a pad token distinct from EOS:
//  1. the tokenizer's own pad token, when it has one that is not EOS; else
//  2. `<|pad|>`, made a special token (tokenizer.json added_tokens, tokenizer_config.json pad_token and
//     added_tokens_decoder, special_tokens_map.json) with the id the `tokenizers` library gives the next added token:
//     the tokenizer's size (largest id + 1). When that id is below config.vocab_size it is one of the unused embedding
//     rows (Qwen2 pads its vocabulary); otherwise the embedding grows to hold it (vocab_size + 1).
// We do not reuse SentencePiece's <unk> as the pad: adding one token works for every tokenizer kind the same way.
// The pad row's values never reach a score (pads are masked out of attention and pooled past), so any value would do;
// it gets the embedding's mean, as transformers' resize_token_embeddings initialises new rows.
struct PadFix {
  int64_t id = -1;
  bool add_token = false;  // write <|pad|> into the tokenizer files
  bool set_token = false;  // point the tokenizer files' pad_token at it
  std::string note;
};

PadFix choose_pad(const std::string& dir, const ModelConfig& config) {
  PadFix fix;
  std::unique_ptr<Tokenizer> tokenizer = has_tokenizer(dir) ? load_tokenizer(dir) : nullptr;
  const int64_t eos = config.eos_token_id;
  if (tokenizer && tokenizer->pad_id() >= 0 && tokenizer->pad_id() != eos) {
    fix.id = tokenizer->pad_id();
    fix.note = "pad_token_id " + std::to_string(fix.id) + " (the tokenizer's own pad token)";
    return fix;
  }
  const int64_t existing = tokenizer ? tokenizer->token_to_id(kPadToken) : -1;
  if (existing >= 0) {
    if (existing == eos) fail(dir, std::string("a tokenizer whose ") + kPadToken + " is not its EOS token", "the same id");
    fix.id = existing, fix.set_token = true;
    fix.note = "pad_token_id " + std::to_string(fix.id) + " (the tokenizer's " + kPadToken + ", now its pad token)";
    return fix;
  }
  fix.id = tokenizer ? tokenizer->vocab_size() : config.vocab_size;
  fix.add_token = fix.set_token = tokenizer != nullptr;
  fix.note = "pad_token_id " + std::to_string(fix.id) + " (" +
             (tokenizer ? std::string("a new ") + kPadToken + " special token" : "no tokenizer files: pad with this id") +
             (fix.id >= config.vocab_size ? ", embedding grown to " + std::to_string(fix.id + 1) + " rows"
                                          : ", an unused embedding row") + ")";
  return fix;
}

// The same model with `vocab_size` embedding rows: the old rows, and new ones at their mean.
Transformer with_vocab_size(TransformerImpl& source, int64_t vocab_size) {
  ModelConfig config = source.config();
  config.vocab_size = vocab_size;
  Transformer resized(config, source.has_lm_head(), source.has_score_head());
  resized->to(source.embed_tokens.device(), source.embed_tokens.scalar_type());
  auto from = source.named_parameters();
  torch::NoGradGuard no_grad;
  for (auto& p : resized->named_parameters()) {
    const torch::Tensor& old = from[p.key()];
    if (old.sizes() == p.value().sizes()) {
      p.value().copy_(old);
    } else {  // embed_tokens (and an untied lm_head): [V_old, C] -> [V_new, C]
      const int64_t n = old.size(0);
      p.value().slice(0, 0, n).copy_(old);
      p.value().slice(0, n).copy_(old.to(torch::kFloat32).mean(0, true).expand({p.value().size(0) - n, old.size(1)}));
    }
  }
  return resized;
}

ordered_json pad_added_token(int64_t id, bool with_id) {
  ordered_json t;
  if (with_id) t["id"] = id;
  t["content"] = kPadToken;
  t["single_word"] = false, t["lstrip"] = false, t["rstrip"] = false, t["normalized"] = false, t["special"] = true;
  return t;
}

// The tokenizer files, copied; with the pad fix written into the ones that name special tokens.
void write_tokenizer_files(const std::string& dir, const std::string& out, const PadFix& fix) {
  for (const char* name : kTokenizerFiles) {
    const std::string source = dir + "/" + name, target = out + "/" + name;
    const std::string file = name;
    const bool patch = fix.set_token && (file == "tokenizer.json" || file == "tokenizer_config.json" ||
                                         file == "special_tokens_map.json");
    if (!file_exists(source)) {
      // A pad token must be declared somewhere HF and our loader read: tokenizer_config.json is that place.
      if (patch && file == "tokenizer_config.json") {
        ordered_json config;
        config["pad_token"] = kPadToken;
        if (fix.add_token) config["added_tokens_decoder"][std::to_string(fix.id)] = pad_added_token(fix.id, false);
        write_file_atomic(target, config.dump(2));
      }
      continue;
    }
    if (!patch) {
      write_file_atomic(target, read_file(source));
      continue;
    }
    ordered_json j = read_json_object(source);
    if (file == "tokenizer.json") {
      if (fix.add_token) {
        if (!j.contains("added_tokens") || j["added_tokens"].is_null()) j["added_tokens"] = ordered_json::array();
        if (!j["added_tokens"].is_array()) fail(source, "an added_tokens list", j["added_tokens"].type_name());
        j["added_tokens"].push_back(pad_added_token(fix.id, true));
      }
    } else {
      j["pad_token"] = kPadToken;
      if (file == "tokenizer_config.json" && fix.add_token) {
        if (!j.contains("added_tokens_decoder") || !j["added_tokens_decoder"].is_object())
          j["added_tokens_decoder"] = ordered_json::object();
        j["added_tokens_decoder"][std::to_string(fix.id)] = pad_added_token(fix.id, false);
      }
    }
    try {
      write_file_atomic(target, j.dump(2) + "\n");
    } catch (const nlohmann::json::exception& e) {
      fail(source, "text that is valid UTF-8", e.what());
    }
  }
}

// generation_config.json: the source's when it has one, else bos / eos / pad from config.json; the options on top.
void write_generation_config(const std::string& dir, const std::string& out, const ordered_json& source_config,
                             const ModelConfig& config, const PadFix& fix, const HfExportOptions& o) {
  const std::string source = dir + "/generation_config.json";
  ordered_json g;
  if (file_exists(source)) {
    g = read_json_object(source);
  } else {
    if (config.bos_token_id >= 0) g["bos_token_id"] = config.bos_token_id;
    // eos_token_id as the source wrote it: a list (Llama 3's several end tokens) stays a list.
    if (source_config.contains("eos_token_id") && !source_config["eos_token_id"].is_null())
      g["eos_token_id"] = source_config["eos_token_id"];
    if (config.pad_token_id >= 0) g["pad_token_id"] = config.pad_token_id;
  }
  if (fix.id >= 0) g["pad_token_id"] = fix.id;
  if (o.do_sample) g["do_sample"] = *o.do_sample;
  if (o.temperature) g["temperature"] = *o.temperature;
  if (o.top_p) g["top_p"] = *o.top_p;
  if (o.max_new_tokens) g["max_new_tokens"] = *o.max_new_tokens;
  write_file_atomic(out + "/generation_config.json", g.dump(2) + "\n");
}

}  // namespace

int64_t parse_byte_size(const std::string& text) {
  const auto bad = [&]() -> int64_t {
    fail("--max_shard_size", "a size such as 2GB, 500MB, 10KB, 1GiB or a byte count", "'" + text + "'");
  };
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return bad();
  const int64_t number = std::stoll(text.substr(0, digits));
  std::string unit = text.substr(digits);
  std::string upper = unit;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  int64_t scale = 0;
  // transformers' convert_file_size_to_int: KiB/MiB/GiB are powers of 1024, KB/MB/GB of 1000, a lowercase final
  // "b" (Gb, Mb, Kb) counts bits.
  if (unit.empty()) scale = 1;
  else if (upper == "KIB") scale = int64_t{1} << 10;
  else if (upper == "MIB") scale = int64_t{1} << 20;
  else if (upper == "GIB") scale = int64_t{1} << 30;
  else if (upper == "KB") scale = 1000;
  else if (upper == "MB") scale = 1000000;
  else if (upper == "GB") scale = 1000000000;
  else return bad();
  if (number > std::numeric_limits<int64_t>::max() / scale) return bad();
  int64_t bytes = number * scale;
  if (unit.size() == 2 && unit[1] == 'b') bytes /= 8;
  if (bytes <= 0) return bad();
  return bytes;
}

HfExportResult export_hf(const std::string& model_dir, const std::string& out_dir, const HfExportOptions& options) {
  check_model_dir(model_dir);
  check_out_is_not_model_dir(model_dir, out_dir);
  if (options.max_shard_bytes <= 0) fail("--max_shard_size", "a positive size", std::to_string(options.max_shard_bytes));
  const ordered_json source_config = read_json_object(model_dir + "/config.json");
  const ModelConfig source = load_model_config(model_dir + "/config.json");
  HfExportResult result;
  if (!options.dtype.empty()) {
    result.dtype = canonical_dtype(options.dtype);
  } else {
    const std::string& d = source.torch_dtype;
    result.dtype = d == "bfloat16" || d == "float16" ? d : "float32";
  }

  Transformer model = load_model(model_dir, LoadOptions{parse_torch_dtype(result.dtype)});
  const bool reward_like = model->has_score_head() && !model->has_lm_head();
  PadFix fix;
  if (reward_like && (source.pad_token_id < 0 || source.pad_token_id == source.eos_token_id)) {
    fix = choose_pad(model_dir, source);
    if (fix.id >= model->config().vocab_size) model = with_vocab_size(*model, fix.id + 1);
    result.pad_note = fix.note;
  }

  make_dirs(out_dir);
  remove_previous_weights(out_dir);
  write_tokenizer_files(model_dir, out_dir, fix);
  write_generation_config(model_dir, out_dir, source_config, source, fix, options);
  std::optional<double> offset;
  const std::string normalization = model_dir + "/reward_normalization.json";
  if (file_exists(normalization)) {
    offset = load_reward_offset(model_dir);
    write_file_atomic(out_dir + "/reward_normalization.json", read_file(normalization));
  } else {
    std::error_code ec;
    fs::remove(out_dir + "/reward_normalization.json", ec);  // an earlier export's, of another model
  }

  SaveOptions save;
  save.dtype = result.dtype;
  save.max_shard_bytes = options.max_shard_bytes;
  save_model(*model, out_dir, save);

  // config.json as save_model wrote it, plus what ModelConfig does not carry.
  const std::string config_path = out_dir + "/config.json";
  ordered_json config = read_json_object(config_path);
  if (source_config.contains("eos_token_id") && source_config["eos_token_id"].is_array())
    config["eos_token_id"] = source_config["eos_token_id"];
  if (fix.id >= 0) config["pad_token_id"] = fix.id;
  // Our reward (io/model_dir.h load_reward_offset) is the scalar head's output minus this offset, so that the
  // demonstrations score 0 on average; transformers' logits[:, 0] is the raw output.
  if (offset) config["rlhf_reward_offset"] = *offset;
  write_file_atomic(config_path, config.dump(2) + "\n");

  result.architecture = config["architectures"][0].get<std::string>();
  result.shards = count_shards(out_dir);
  result.pad_token_id = config.contains("pad_token_id") ? config["pad_token_id"].get<int64_t>() : -1;
  result.reward_offset = offset;
  return result;
}

std::string export_gguf_file(const std::string& model_dir, const std::string& out_path, const std::string& dtype,
                             const std::string& pre, const std::string& name) {
  GgmlType type;
  // HF's dtype names are accepted too, so one --dtype spelling works for both formats where it can.
  const std::string d = dtype == "float32" ? "f32" : dtype == "float16" ? "f16" : dtype;
  if (!parse_ggml_type(d, &type) || (type != GgmlType::F32 && type != GgmlType::F16 && type != GgmlType::Q8_0))
    fail("--dtype", "f32, f16 or q8_0 for GGUF", "'" + dtype + "'");
  check_model_dir(model_dir);
  check_out_is_not_model_dir(model_dir, out_path);
  export_gguf(model_dir, out_path, type, pre, name);
  return ggml_type_name(type);
}

}  // namespace rlhf
