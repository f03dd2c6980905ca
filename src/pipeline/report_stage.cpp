// The pipeline's last stage: `rlhf eval` on the run (every measure of the paper, judged by the world's labelers and
// checkers) and the report, then the headline numbers the paper states, read back from report/summary.json.
#include <cstdio>

#include "common/files.h"
#include "eval/evaluate.h"
#include "eval/report.h"
#include "eval/run_layout.h"
#include "model/config.h"
#include "pipeline/stage_bodies.h"
#include "pipeline/world_judge.h"

namespace rlhf::pipeline {

using json = nlohmann::json;

json stage_report(const PipelineConfig& c, const RunPaths& p, StageCompute& compute) {
  eval::RunLayout layout(p.root);
  WorldJudge judge(layout.world_dir());
  eval::EvalOptions o = c.eval;
  o.seed = c.seed;
  o.device = c.device;
  json summary = eval::evaluate_run(layout, judge, o);
  eval::write_report(layout.report_dir(), summary);
  compute.parameters = load_model_config(layout.model_dir("sft") + "/config.json").parameter_count();
  // The headline numbers (all from summary.json; the table printed at the end of the pipeline reads these).
  json headline = {{"report", layout.report_html()},
                   {"agreement_on_test_responses", summary.value("agreement", json::object()).value("all", json())}};
  for (const std::string key : {"sft", "ppo", "ppo_ptx"}) {
    headline["mean_rm_reward"][key] = summary["rm_score"]["all"][key]["mean"];
    if (key == "sft") continue;
    for (const std::string set : {"training", "held_out"})
      headline["win_rate_vs_sft"][set][key] =
          summary["preference"]["all"]["models"][key][set]["win_rate"]["value"];
  }
  return headline;
}

void print_headlines(const json& rm, const json& rankings, const json& report) {
  auto row = [](const std::string& label, const json& value) {
    if (value.is_number()) std::printf("%-56s %10.3f\n", label.c_str(), value.get<double>());
    else std::printf("%-56s %10s\n", label.c_str(), "-");
  };
  std::printf("\n%-56s %10s\n", "InstructGPT, reproduced on the demo world", "value");
  row("RM validation accuracy", rm.value("validation_accuracy", json()));
  row("inter-labeler agreement on the RM's rankings (its ceiling)", rankings.value("inter_labeler_agreement", json()));
  if (!report.contains("mean_rm_reward")) return;
  for (const std::string key : {"sft", "ppo", "ppo_ptx"})
    row("mean RM reward on test prompts: " + key, report["mean_rm_reward"].value(key, json()));
  for (const std::string set : {"training", "held_out"})
    for (const std::string key : {"ppo", "ppo_ptx"})
      row("win rate vs SFT, " + std::string(set == "held_out" ? "held-out" : "training") + " labelers: " + key,
          report["win_rate_vs_sft"][set].value(key, json()));
  std::printf("%-56s %s\n", "report", report.value("report", std::string()).c_str());
}

}  // namespace rlhf::pipeline
