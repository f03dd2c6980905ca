// rlhf train-tokenizer: train a byte-level BPE tokenizer on JSONL text and write a tokenizer folder (tokenizer.json +
// tokenizer_config.json) that load_tokenizer, HF tokenizers and transformers all read.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "command.h"
#include "common/error.h"
#include "common/json.h"
#include "common/options.h"
#include "tokenizer/bpe_train.h"

namespace rlhf::cli {
namespace {

using json = nlohmann::json;

struct TrainTokenizerArgs {
  std::string input = "-", text_field = "text", output_dir, special_tokens = "<|endoftext|>";
  std::string bos_token = "<|endoftext|>", eos_token = "<|endoftext|>", pad_token;
  int64_t vocab_size = 8192, min_frequency = 2;
  bool add_prefix_space = false;
};

std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> parts;
  std::stringstream stream(list);
  for (std::string part; std::getline(stream, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

void run(const TrainTokenizerArgs& a) {
  std::ifstream file;
  if (a.input != "-") {
    file.open(a.input);
    if (!file) fail(a.input, "a readable JSONL file", "cannot open it");
  }
  std::istream& in = a.input == "-" ? std::cin : file;
  const std::string name = a.input == "-" ? "stdin" : a.input;
  std::vector<std::string> texts;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const std::string where = name + ":" + std::to_string(number);
    check_json_nesting(line, where);
    json j = json::parse(line, nullptr, false);
    if (!j.is_object()) fail(where, "a JSON object", line.substr(0, 80));
    auto it = j.find(a.text_field);
    if (it == j.end() || !it->is_string()) fail(where, "a string \"" + a.text_field + "\"", line.substr(0, 80));
    texts.push_back(it->get<std::string>());
  }
  BpeTrainOptions options;
  options.min_frequency = a.min_frequency;
  options.add_prefix_space = a.add_prefix_space;
  options.bos_token = a.bos_token;
  options.eos_token = a.eos_token;
  options.pad_token = a.pad_token;
  auto start = std::chrono::steady_clock::now();
  auto tokenizer = train_bpe(texts, a.vocab_size, split_commas(a.special_tokens), options);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  tokenizer->save_pretrained(a.output_dir);
  std::cerr << "trained " << tokenizer->vocab_size() << " tokens (" << tokenizer->merges().size() << " merges) on "
            << texts.size() << " texts in " << seconds << " s; wrote " << a.output_dir << "/tokenizer.json\n";
}

RegisterCommand reg{{"train-tokenizer", "Train a byte-level BPE tokenizer on JSONL text; write tokenizer.json", [](CLI::App& app) {
  auto a = std::make_shared<TrainTokenizerArgs>();
  auto options = std::make_shared<Options>();
  options->add("input", &a->input, "JSONL file of {\"text\": ...} ('-' = stdin)");
  options->add("text_field", &a->text_field, "the JSON field holding the text");
  options->add("output_dir", &a->output_dir, "folder to write tokenizer.json and tokenizer_config.json to");
  options->add("vocab_size", &a->vocab_size, "tokens in all: special tokens + 256 bytes + merges");
  options->add("min_frequency", &a->min_frequency, "never merge a pair seen fewer times");
  options->add("special_tokens", &a->special_tokens, "comma-separated special tokens (ids 0..k-1)");
  options->add("bos_token", &a->bos_token, "which special token is BOS ('' for none)");
  options->add("eos_token", &a->eos_token, "which special token is EOS ('' for none)");
  options->add("pad_token", &a->pad_token, "which special token is PAD ('' for none)");
  options->add("add_prefix_space", &a->add_prefix_space, "ByteLevel add_prefix_space (GPT-2: false)");
  options->attach(app);
  app.callback([a, options, &app] {
    options->check_extras(app);
    check(!a->output_dir.empty(), "train-tokenizer: --output_dir DIR is required");
    run(*a);
  });
}}};

}  // namespace
}  // namespace rlhf::cli
