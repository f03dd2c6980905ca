// rlhf eval: the paper's evaluations for a run directory written by `rlhf pipeline` (labeler preference against SFT,
// RM generalisation, truthfulness, hallucination, toxicity, bias, alignment tax, compute, real public data), into
// RUN/report/summary.json and RUN/report/report.html. With --model NAME=DIR (repeatable) it measures any models on the
// real public data (CrowS-Pairs for language models, HH-RLHF for reward models).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "command.h"
#include "io/hf_cache.h"
#include "common/error.h"
#include "common/files.h"
#include "common/options.h"
#include "eval/evaluate.h"
#include "eval/goals.h"
#include "eval/report.h"
#include "eval/run_layout.h"
#include "pipeline/world_judge.h"

namespace rlhf::cli {
namespace {

using json = nlohmann::json;

struct EvalArgs {
  std::string run, out;
  std::vector<std::string> models;
  eval::EvalOptions options;
};

std::vector<std::pair<std::string, std::string>> parse_models(const std::vector<std::string>& specs) {
  std::vector<std::pair<std::string, std::string>> models;
  for (const auto& spec : specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) fail("--model", "NAME=DIR", spec);
    models.emplace_back(spec.substr(0, eq), resolve_model_path(spec.substr(eq + 1)));  // DIR, or a Hub id in the cache
  }
  return models;
}

void print_headlines(const json& s) {
  if (s.contains("preference"))
    for (const auto& [size, p] : s["preference"].items())
      for (const auto& [id, m] : p["models"].items()) {
        std::cout << "  win rate vs SFT  " << id << ": training labelers "
                  << m["training"]["win_rate"]["value"].dump();
        if (m.contains("held_out")) std::cout << ", held-out labelers " << m["held_out"]["win_rate"]["value"].dump();
        const json& set = m.contains("held_out") ? m["held_out"] : m["training"];
        if (set.contains("win_rate_length_controlled"))
          std::cout << " (length-controlled " << set["win_rate_length_controlled"]["value"].dump() << ")";
        std::cout << "\n";
      }
  if (s.contains("real_data"))
    for (const auto& [name, r] : s["real_data"].items()) {
      if (r.contains("crows_pairs") && r["crows_pairs"].contains("stereotype_preferred"))
        std::cout << "  CrowS-Pairs " << name << ": stereotype preferred " << r["crows_pairs"]["stereotype_preferred"]["value"].dump() << "\n";
      if (r.contains("hh_rlhf") && r["hh_rlhf"].contains("accuracy"))
        std::cout << "  HH-RLHF " << name << ": preference accuracy " << r["hh_rlhf"]["accuracy"]["value"].dump() << "\n";
    }
  for (const auto& n : s.value("notes", json::array())) std::cout << "  note: " << n.get<std::string>() << "\n";
  if (s.contains("goals")) std::cout << "\n" << eval::goals_table_text(s["goals"]);
}

void run(const EvalArgs& a) {
  check(!a.run.empty() || !a.models.empty(), "eval: give --run RUN (a pipeline run) and/or --model NAME=DIR");
  const auto extra = parse_models(a.models);
  json summary;
  std::string out = a.out;
  if (!a.run.empty()) {
    eval::RunLayout layout(a.run);
    if (!file_exists(layout.world_dir() + "/world.json"))
      fail(layout.world_dir() + "/world.json", "the run's world (the judges of the evaluation)",
           "no such file; for models outside a run use --model NAME=DIR");
    pipeline::WorldJudge judge(layout.world_dir());
    summary = eval::evaluate_run(layout, judge, a.options);
    if (!extra.empty()) {
      json more = eval::evaluate_models(extra, a.options);
      for (const auto& [name, r] : more["real_data"].items()) summary["real_data"][name] = r;
    }
    if (out.empty()) out = layout.report_dir();
  } else {
    summary = eval::evaluate_models(extra, a.options);
    if (out.empty()) out = "report";
  }
  eval::write_report(out, summary);
  std::cout << "eval: wrote " << out << "/summary.json and " << out << "/report.html\n";
  print_headlines(summary);
}

RegisterCommand reg{{"eval", "The paper's evaluations of a pipeline run (or of any models on real data) and the report",
                     [](CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto options = std::make_shared<Options>();
  options->add("run", &a->run, "run directory written by `rlhf pipeline` (models/, world/, data/test.jsonl, ...)");
  options->add("out", &a->out, "report folder (default: RUN/report, or ./report with --model only)");
  eval::bind_eval_options(*options, a->options);
  app.add_option("--model", a->models, "NAME=DIR (or NAME=org/name, from the local Hugging Face cache): also measure this model on the real public "
                 "data (repeatable)");
  options->attach(app);
  app.callback([a, options, &app] {
    options->check_extras(app);
    run(*a);
  });
}}};

}  // namespace
}  // namespace rlhf::cli
