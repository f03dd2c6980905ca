// rlhf data curate: InstructGPT's prompt curation for any JSONL prompt log with a user id field: PII redaction or
// removal, exact and long-common-prefix dedup, a per-user cap, and a train/validation/test split by user id.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "command.h"
#include "common/error.h"
#include "common/options.h"
#include "data/curate.h"

namespace rlhf::cli {
namespace {

struct CurateArgs {
  std::string input, out, split = "0.8,0.1,0.1";
  int64_t seed = 0;
  data::CurateOptions options;
};

void run(CurateArgs& a) {
  a.options.split = data::parse_split(a.split);
  a.options.seed = static_cast<uint64_t>(a.seed);
  data::CurationReport report = data::curate_file(a.input, a.out, a.options);
  std::cout << report.summary() << "wrote " << a.out << "/{train,validation,test}.jsonl and " << a.out
            << "/curation_report.json\n";
}

RegisterCommand reg{{"data", "Data tools: `rlhf data curate` (dedup, per-user cap, PII filter, user-disjoint splits)",
                     [](CLI::App& app) {
  app.require_subcommand(1);
  CLI::App* curate = app.add_subcommand("curate", "Curate a JSONL prompt log into user-disjoint train/validation/test");
  auto a = std::make_shared<CurateArgs>();
  auto options = std::make_shared<Options>();
  options->add("input", &a->input, "JSONL prompt log (one object per line with a prompt and a user id)");
  options->add("out", &a->out, "folder for train.jsonl, validation.jsonl, test.jsonl and curation_report.json");
  options->add("text_field", &a->options.text_field, "field holding the prompt text");
  options->add("user_field", &a->options.user_field, "field holding the user id (splits never share a user)");
  options->add("prefix_chars", &a->options.prefix_chars, "prompts sharing this many leading characters are duplicates (0: off)");
  options->add("max_per_user", &a->options.max_per_user, "at most this many prompts per user (0: no cap)");
  options->add("split", &a->split, "train,validation,test fractions (by prompts, assigned per user)");
  options->add("pii", &a->options.pii, "redact (placeholders like [EMAIL]) or drop prompts with PII");
  options->add("seed", &a->seed, "seed for the per-user sample and the user split");
  options->attach(*curate);
  curate->callback([a, options, curate] {
    options->check_extras(*curate);
    check(!a->input.empty(), "data curate: --input LOG.jsonl is required");
    check(!a->out.empty(), "data curate: --out DIR is required");
    run(*a);
  });
}}};

}  // namespace
}  // namespace rlhf::cli
