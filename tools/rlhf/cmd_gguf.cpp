// rlhf export-gguf: an HF model directory (config.json, model.safetensors, tokenizer files) as a GGUF that llama.cpp runs.
// `rlhf export --format gguf` under its older name: both call io/export.h's export_gguf_file.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "command.h"
#include "io/hf_cache.h"
#include "common/error.h"
#include "io/export.h"

namespace rlhf::cli {
namespace {

struct ExportGgufArgs {
  std::string model, out, dtype = "f16", pre, name;
};

void run(const ExportGgufArgs& a) {
  const std::string type = export_gguf_file(a.model, a.out, a.dtype, a.pre, a.name);
  std::cout << "wrote " << a.out << " (" << type << ")\n";
}

RegisterCommand reg{{"export-gguf", "Write an HF model directory as a GGUF file for llama.cpp (F32, F16 or Q8_0)",
                     [](CLI::App& app) {
                       auto args = std::make_shared<ExportGgufArgs>();
                       app.add_option("--model", args->model, "model directory (HF layout)")->required();
                       app.add_option("--out", args->out, "GGUF file to write")->required();
                       app.add_option("--dtype", args->dtype, "tensor type of the matrices: f32, f16 or q8_0 "
                                                              "(norms, biases, position embeddings stay f32)")
                           ->capture_default_str();
                       app.add_option("--pre", args->pre, "llama.cpp pre-tokenizer name (default: recognised from "
                                                          "tokenizer.json: gpt-2, llama-bpe, qwen2)");
                       app.add_option("--name", args->name, "general.name (default: the directory's name)");
                       app.callback([args] {
                         args->model = resolve_model_path(args->model);  // a Hub id in the local cache, too
                         run(*args);
                       });
                     }}};

}  // namespace
}  // namespace rlhf::cli
