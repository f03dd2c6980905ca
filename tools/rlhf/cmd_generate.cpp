// rlhf generate: batched sampling from a model directory, with the KV cache. Prompts as text (--prompt, --prompts FILE)
// or as token ids (--ids FILE, JSONL {"ids": [...]}; "-" = stdin). One JSONL line per prompt on stdout, in order.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>
#include <functional>
#include <iostream>

#include "command.h"
#include "common/error.h"
#include "common/json.h"
#include "common/options.h"
#include "infer/batch.h"
#include "io/hf_cache.h"
#include "io/model_dir.h"
#include "model/device.h"
#include "model/generate.h"
#include "tokenizer/prompt_format.h"
#include "tokenizer/tokenizer.h"

namespace rlhf::cli {
namespace {

using json = nlohmann::json;

struct GenerateArgs {
  std::string model, tokenizer, prompts_file, ids_file, prompt_format = "raw", dtype = "float32", device = "auto";
  std::vector<std::string> prompts;
  int64_t max_new_tokens = 64, top_k = 0, batch_size = 8, seed = 0, eos_token_id = -2;
  double temperature = 1.0, top_p = 1.0;
  bool do_sample = true, use_cache = true, timing = false;
};

// Each non-blank line of a JSONL file ("-" = stdin), parsed, to `take`; `expected` describes a line in errors.
void read_lines(const std::string& path, const std::string& expected,
                const std::function<void(const json&, const std::string& where, const std::string& line)>& take) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) fail(path, "a readable JSONL file", "no such file");
    in = &file;
  }
  std::string line;
  for (int64_t n = 1; std::getline(*in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = (path == "-" ? "stdin" : path) + ":" + std::to_string(n);
    check_json_nesting(line, where);
    try {
      take(json::parse(line), where, line);
    } catch (const json::exception& e) {
      fail(where, expected, e.what());
    }
  }
}

std::vector<std::vector<int64_t>> read_ids(const std::string& path) {
  std::vector<std::vector<int64_t>> rows;
  read_lines(path, "a JSON object {\"ids\": [int, ...]}", [&](const json& j, const std::string& where, const auto& line) {
    if (!j.contains("ids") || !j["ids"].is_array() || j["ids"].empty()) fail(where, "a non-empty \"ids\" list", line);
    rows.push_back(j["ids"].get<std::vector<int64_t>>());
  });
  return rows;
}

std::vector<std::string> read_prompts(const std::string& path) {
  std::vector<std::string> prompts;
  read_lines(path, "a JSON object with \"prompt\"", [&](const json& j, const std::string& where, const auto& line) {
    if (!j.contains("prompt") || !j["prompt"].is_string()) fail(where, "a string \"prompt\"", line);
    prompts.push_back(j["prompt"].get<std::string>());
  });
  return prompts;
}

void run(GenerateArgs a) {
  const auto device = pick_device(a.device);
  auto model = load_model(a.model, LoadOptions{parse_torch_dtype(a.dtype), device});
  model->eval();
  const ModelConfig& config = model->config();
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<std::vector<int64_t>> rows;
  std::vector<int64_t> stop_ids;
  if (!a.ids_file.empty()) {
    rows = read_ids(a.ids_file);
  } else {
    tokenizer = load_tokenizer(a.tokenizer.empty() ? a.model : a.tokenizer);
    if (!a.prompts_file.empty()) {
      auto more = read_prompts(a.prompts_file);
      a.prompts.insert(a.prompts.end(), more.begin(), more.end());
    }
    check(!a.prompts.empty(), "generate: give --prompt TEXT, --prompts FILE or --ids FILE");
    for (const auto& p : a.prompts) {
      if (a.prompt_format == "raw") {
        rows.push_back(tokenizer->encode(p, config.bos_token_id >= 0 && tokenizer->kind() == "sentencepiece"));
      } else {
        auto format = PromptFormat::from_name(a.prompt_format, a.model);
        rows.push_back(encode_prompt(*tokenizer, format, p, "", false).prompt_ids);
        stop_ids = format.stop_ids(*tokenizer);
      }
      // A model continues tokens: with none it sampled from padding alone (or failed in torch's select()), as --ids
      // refuses an empty list.
      if (rows.back().empty())
        fail("generate: prompt " + std::to_string(rows.size()) + " (--prompt, then --prompts, in order)",
             "text of at least one token in the " + a.prompt_format + " format",
             p.empty() ? "an empty prompt (give some text, or a --prompt_format that adds a template)"
                       : "none from " + std::to_string(p.size()) + " bytes of text");
    }
  }
  for (const auto& row : rows)
    for (auto id : row)
      if (id < 0 || id >= config.vocab_size)
        fail("generate input", "token ids in [0, " + std::to_string(config.vocab_size) + ")", std::to_string(id));

  GenerationOptions o;
  o.max_new_tokens = a.max_new_tokens;
  o.do_sample = a.do_sample;
  o.temperature = a.temperature;
  o.top_k = a.top_k;
  o.top_p = a.top_p;
  o.use_cache = a.use_cache;
  o.eos_token_id = a.eos_token_id == -2 ? config.eos_token_id : a.eos_token_id;
  o.stop_token_ids = stop_ids;
  o.pad_token_id = config.pad_token_id >= 0 ? config.pad_token_id : std::max<int64_t>(config.eos_token_id, 0);
  auto generator = seeded_generator(device, static_cast<uint64_t>(a.seed));  // a GPU samples with a GPU generator

  GenerationStats stats;
  const auto generated = generate_rows(*model, rows, o, a.batch_size, generator, false, &stats);
  for (size_t i = 0; i < rows.size(); ++i) {
    json line = {{"ids", generated.ids[i]}, {"logprobs", generated.logprobs[i]}};
    if (tokenizer) {
      line["prompt"] = a.prompts[i];
      line["response"] = tokenizer->decode(generated.ids[i], true);
    }
    std::cout << line.dump() << "\n";
  }
  if (a.timing)
    std::cerr << "generated " << stats.batch_positions << " tokens (batch positions) in " << stats.seconds << " s: "
              << (stats.seconds > 0 ? stats.batch_positions / stats.seconds : 0) << " tokens/s\n";
}

RegisterCommand reg{{"generate", "Sample from a model (batched, KV cache); JSONL out", [](CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  auto options = std::make_shared<Options>();
  options->add("model", &a->model, "model directory (HF layout: config.json + safetensors)");
  options->add("tokenizer", &a->tokenizer, "tokenizer path (default: the model directory)");
  options->add("prompts", &a->prompts_file, "JSONL file of {\"prompt\": ...}");
  options->add("ids", &a->ids_file, "JSONL file of {\"ids\": [...]} ('-' = stdin); no tokenizer needed");
  options->add("prompt_format", &a->prompt_format, "raw | plain | hh | chatml | llama3 | zephyr | chat");
  options->add("max_new_tokens", &a->max_new_tokens, "tokens to generate per prompt");
  options->add("do_sample", &a->do_sample, "sample (true) or greedy (false)");
  options->add("temperature", &a->temperature, "sampling temperature");
  options->add("top_k", &a->top_k, "keep the k most likely tokens (0: off)");
  options->add("top_p", &a->top_p, "nucleus sampling mass (1: off)");
  options->add("eos_token_id", &a->eos_token_id, "stop id (-2: config's eos_token_id, -1: none)");
  options->add("batch_size", &a->batch_size, "prompts per batch");
  options->add("seed", &a->seed, "sampling seed");
  options->add("use_cache", &a->use_cache, "KV cache (false: recompute everything each step)");
  options->add("dtype", &a->dtype, "float32 | bfloat16");
  options->add("device", &a->device, "auto | cpu | cuda | cuda:N (auto: CUDA when there is one)");
  options->add("timing", &a->timing, "print tokens/s to stderr");
  options->attach(app);
  app.add_option("--prompt", a->prompts, "a prompt (repeatable)");
  app.callback([a, options, &app] {
    options->check_extras(app);
    check(!a->model.empty(), "generate: --model DIR is required");
    a->model = resolve_model_path(a->model);
    run(*a);
  });
}}};

}  // namespace
}  // namespace rlhf::cli
