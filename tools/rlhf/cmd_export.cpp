// rlhf export: a model directory as a Hugging Face directory for transformers (--format hf) or a GGUF file for llama.cpp
// (--format gguf). The work is io/export.h's; `rlhf export-gguf` is the GGUF half under its older name.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "command.h"
#include "io/hf_cache.h"
#include "common/error.h"
#include "io/export.h"

namespace rlhf::cli {
namespace {

struct ExportArgs {
  std::string model, out, format = "hf", dtype, max_shard_size = "2GB", pre, name;
  bool do_sample = false;
  double temperature = 1.0, top_p = 1.0;
  int64_t max_new_tokens = 0;
};

void run(const ExportArgs& a, const CLI::App& app) {
  const auto given = [&](const char* option) { return app.count(option) > 0; };
  if (a.format == "gguf") {
    for (const char* option : {"--max_shard_size", "--do_sample", "--temperature", "--top_p", "--max_new_tokens"})
      if (given(option)) fail(option, "an option of --format hf", "--format gguf");
    const std::string type = export_gguf_file(a.model, a.out, a.dtype.empty() ? "f16" : a.dtype, a.pre, a.name);
    std::cout << "wrote " << a.out << " (GGUF, " << type << ")\n";
    return;
  }
  if (a.format != "hf") fail("--format", "hf or gguf", "'" + a.format + "'");
  for (const char* option : {"--pre", "--name"})
    if (given(option)) fail(option, "an option of --format gguf", "--format hf");
  HfExportOptions o;
  o.dtype = a.dtype;
  o.max_shard_bytes = parse_byte_size(a.max_shard_size);
  if (given("--do_sample")) o.do_sample = a.do_sample;
  if (given("--temperature")) {
    if (!(a.temperature > 0)) fail("--temperature", "a number > 0", std::to_string(a.temperature));
    o.temperature = a.temperature;
  }
  if (given("--top_p")) {
    if (!(a.top_p > 0 && a.top_p <= 1)) fail("--top_p", "a number in (0, 1]", std::to_string(a.top_p));
    o.top_p = a.top_p;
  }
  if (given("--max_new_tokens")) {
    if (a.max_new_tokens <= 0) fail("--max_new_tokens", "a positive count", std::to_string(a.max_new_tokens));
    o.max_new_tokens = a.max_new_tokens;
  }
  HfExportResult r = export_hf(a.model, a.out, o);
  std::cout << "wrote " << a.out << " (" << r.architecture << ", " << r.dtype << ", " << r.shards
            << (r.shards == 1 ? " safetensors file" : " shards") << ")\n";
  if (!r.pad_note.empty()) std::cout << "reward model padding: " << r.pad_note << "\n";
  if (r.reward_offset)
    std::cout << "reward offset " << *r.reward_offset
              << " in config.json's rlhf_reward_offset: reward = logits[:, 0] - rlhf_reward_offset\n";
}

RegisterCommand reg{{"export", "Write a model directory for transformers (--format hf) or llama.cpp (--format gguf)",
                     [](CLI::App& app) {
                       auto a = std::make_shared<ExportArgs>();
                       app.add_option("--model", a->model, "model directory (HF layout)")->required();
                       app.add_option("--out", a->out, "output directory (hf) or GGUF file (gguf)")->required();
                       app.add_option("--format", a->format, "hf | gguf")->capture_default_str();
                       app.add_option("--dtype", a->dtype, "hf: float32 | bfloat16 | float16 (default: the source's "
                                                           "torch_dtype); gguf: f32 | f16 | q8_0 (default f16)");
                       app.add_option("--max_shard_size", a->max_shard_size, "hf: largest safetensors file, e.g. "
                                                                             "2GB, 500MB, 1GiB or bytes")
                           ->capture_default_str();
                       app.add_option("--do_sample", a->do_sample, "hf: generation_config.json do_sample (true|false)");
                       app.add_option("--temperature", a->temperature, "hf: generation_config.json temperature");
                       app.add_option("--top_p", a->top_p, "hf: generation_config.json top_p");
                       app.add_option("--max_new_tokens", a->max_new_tokens, "hf: generation_config.json max_new_tokens");
                       app.add_option("--pre", a->pre, "gguf: llama.cpp pre-tokenizer name (default: recognised from "
                                                        "tokenizer.json)");
                       app.add_option("--name", a->name, "gguf: general.name (default: the directory's name)");
                       app.callback([a, &app] {
                         a->model = resolve_model_path(a->model);  // a Hub id in the local cache, too
                         run(*a, app);
                       });
                     }}};

}  // namespace
}  // namespace rlhf::cli
