// The pipeline's last stage: `rlhf eval` on the run (every measure of the paper, judged by the world's labelers and
// checkers) and the report, then the headline numbers the paper states, read back from report/summary.json.
#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <string>

#include "common/files.h"
#include "eval/evaluate.h"
#include "eval/goals.h"
#include "eval/report.h"
#include "eval/run_layout.h"
#include "model/config.h"
#include "pipeline/stage_bodies.h"
#include "pipeline/world_judge.h"

namespace rlhf::pipeline {

using json = nlohmann::json;

namespace {

// j[path...] when it is an object (operator[] of a const json on a missing key is undefined behaviour); else nullptr.
const json* object_at(const json& j, std::initializer_list<std::string> path) {
  const json* at = &j;
  for (const auto& key : path) {
    if (!at->is_object() || !at->contains(key)) return nullptr;
    at = &(*at)[key];
  }
  return at->is_object() ? at : nullptr;
}

}  // namespace

json stage_report(const PipelineConfig& c, const RunPaths& p, StageCompute& compute) {
  eval::RunLayout layout(p.root);
  WorldJudge judge(layout.world_dir());
  eval::EvalOptions o = c.eval;
  o.seed = c.seed;
  o.device = c.device;
  o.seeds = c.eval_seeds;  // models/KEY_seedN beyond this are an earlier run's
  json summary = eval::evaluate_run(layout, judge, o);
  eval::write_report(layout.report_dir(), summary);
  for (const auto& size : eval::run_sizes(layout))  // the largest model evaluated
    compute.parameters = std::max(compute.parameters,
                                  load_model_config(layout.model_dir("sft", size) + "/config.json").parameter_count());
  // The headline numbers per size ("all" for one size), from summary.json; the closing table prints them.
  json headline = {{"report", layout.report_html()}, {"sizes", json::object()}, {"goals", summary.value("goals", json())}};
  json rm_scores = summary.value("rm_score", json::object());  // a copy: operator[] below may add null members
  for (auto& [size, scores] : rm_scores.items()) {
    json h = {{"agreement_on_test_responses", summary["agreement"][size]}};
    const std::string prefix = size == "all" ? "" : size + "/";
    for (const std::string key : {"base", "base_few_shot", "flan_sft", "sft", "ppo", "ppo_ptx"})
      if (summary.contains("task_success") && summary["task_success"].contains(prefix + key))
        h["task_success"][key] = summary["task_success"][prefix + key];
    for (const auto& [a, b] : {std::pair<std::string, std::string>{"sft", "base_few_shot"}, {"ppo_ptx", "sft"}}) {
      const std::string id = prefix + a + " - " + prefix + b;
      if (summary.contains("task_success_differences") && summary["task_success_differences"].contains(id))
        h["task_success_difference"][a + " - " + b] = summary["task_success_differences"][id];
    }
    if (const json* held_out = object_at(summary, {"held_out_categories"}))
      for (const std::string key : {"base", "base_few_shot", "flan_sft", "sft", "ppo", "ppo_ptx"})
        if (const json* entry = object_at(*held_out, {"held_out", prefix + key})) {
          h["held_out_categories"]["categories"] = held_out->value("categories", json::array());
          h["held_out_categories"]["task_success"][key] = *entry;
        }
    if (summary.contains("rm_success_auc") && summary["rm_success_auc"].contains(size))
      h["rm_success_auc_within_category"] = summary["rm_success_auc"][size]["within_category"];
    if (summary.contains("rm_name_swap") && summary["rm_name_swap"].contains(size))
      h["rm_name_swap"] = summary["rm_name_swap"][size];
    for (const std::string key : {"sft", "ppo", "ppo_ptx"}) {
      const std::string id = size == "all" ? key : size + "/" + key;
      h["mean_rm_reward"][key] = scores[id]["mean"];
      if (key == "sft") continue;
      for (const std::string set : {"training", "held_out"}) {
        h["win_rate_vs_sft"][set][key] = summary["preference"][size]["models"][id][set]["win_rate"]["value"];
        h["win_rate_vs_sft_neither_polite"][set][key] =
            summary["preference"][size]["models"][id][set]["win_rate_neither_polite"]["value"];
        h["win_rate_vs_sft_length_controlled"][set][key] =
            summary["preference"][size]["models"][id][set]["win_rate_length_controlled"];
      }
    }
    for (const std::string key : {"ppo", "ppo_ptx"}) {
      const std::string id = size == "all" ? key : size + "/" + key;
      if (summary.contains("overoptimisation") && summary["overoptimisation"].contains(id))
        h["overoptimisation_peak"][key] = summary["overoptimisation"][id].value("peak", json());
    }
    for (const std::string key : {"base", "sft", "ppo_ptx"}) {
      const std::string id = size == "all" ? key : size + "/" + key;
      if (summary.contains("idk") && summary["idk"].contains(id))
        for (const std::string set : {"unanswerable", "answerable"}) h["idk"][set][key] = summary["idk"][id][set];
    }
    if (const json* seeds = object_at(summary, {"seeds", size})) h["seeds"] = *seeds;  // --eval_seeds
    // Compliance with harmful requests (eval/harmful.h): the benchmark (what the goal reads) and the test prompts.
    for (const std::string key : {"base", "sft", "ppo", "ppo_ptx"})
      for (const char* source : {"harmful_compliance_benchmark", "harmful_compliance"})
        if (const json* entry = object_at(summary, {source, prefix + key})) h[source][key] = *entry;
    headline["sizes"][size] = h;
  }
  return headline;
}

void print_headlines(const json& per_size, const json& report) {
  auto row = [](const std::string& label, const json& value) {
    if (value.is_number()) std::printf("%-60s %10.3f\n", label.c_str(), value.get<double>());
    else std::printf("%-60s %10s\n", label.c_str(), "-");
  };
  std::printf("\n%-60s %10s\n", "InstructGPT, reproduced on the world", "value");
  for (const auto& [size, stages] : per_size.items()) {
    const std::string in = size == "all" ? "" : " [" + size + "]";
    row("RM validation accuracy" + in, stages["rm"].value("validation_accuracy", json()));
    row("inter-labeler agreement on the RM's rankings" + in, stages["rankings"].value("inter_labeler_agreement", json()));
    if (!report.contains("sizes") || !report["sizes"].contains(size)) continue;
    const json& h = report["sizes"][size];
    // What the method is for, first: the share of held-out users' tasks each model does right.
    auto interval = [](const json& entry) {
      char text[64];
      std::snprintf(text, sizeof text, "[%.3f, %.3f]", entry["ci"][0].get<double>(), entry["ci"][1].get<double>());
      return std::string(text);
    };
    for (const char* table : {"task_success", "task_success_difference"})
      if (h.contains(table))
        for (const auto& [key, entry] : h[table].items())
          if (entry.is_object())
            row(std::string(table == std::string("task_success") ? "task success on test prompts: " : "task success ") +
                    key + in + " " + interval(entry),
                entry["value"]);
    // Instruction kinds kept out of training (--held_out_categories): the same measure on their test prompts only.
    if (const json* held_out = object_at(h, {"held_out_categories", "task_success"})) {
      std::string names;
      for (const auto& name : h["held_out_categories"].value("categories", json::array()))
        if (name.is_string()) names += (names.empty() ? "" : ",") + name.get<std::string>();
      for (const auto& [key, entry] : held_out->items())
        if (entry.is_object())
          row("task success, held-out " + names + ": " + key + in + " " + interval(entry), entry["value"]);
    }
    for (const std::string key : {"sft", "ppo", "ppo_ptx"})
      row("mean RM reward on test prompts: " + key + in, h["mean_rm_reward"].value(key, json()));
    row("RM tells success from failure, AUC within categories" + in, h.value("rm_success_auc_within_category", json()));
    if (h.contains("rm_name_swap"))
      row("RM prefers an SFT success to its name-swapped twin" + in + " " + interval(h["rm_name_swap"]),
          h["rm_name_swap"]["value"]);
    for (const std::string set : {"training", "held_out"})
      for (const std::string key : {"ppo", "ppo_ptx"})
        row("win rate vs SFT, " + std::string(set == "held_out" ? "held-out" : "training") + " labelers: " + key + in,
            h["win_rate_vs_sft"][set].value(key, json()));
    for (const std::string key : {"ppo", "ppo_ptx"})
      row("  ... held-out labelers, neither response polite: " + key + in,
          h.contains("win_rate_vs_sft_neither_polite") ? h["win_rate_vs_sft_neither_polite"]["held_out"].value(key, json()) : json());
    // The same comparisons at equal length (a logistic fit on the length difference; eval/length_control.h).
    for (const std::string key : {"ppo", "ppo_ptx"}) {
      const json* lc = object_at(h, {"win_rate_vs_sft_length_controlled", "held_out", key});
      const bool has_ci = lc && lc->contains("ci") && (*lc)["ci"].is_array() && (*lc)["ci"].size() == 2 &&
                          (*lc)["ci"][0].is_number() && (*lc)["ci"][1].is_number();
      row("  ... length-controlled, held-out: " + key + in + (has_ci ? " " + interval(*lc) : ""),
          lc ? lc->value("value", json()) : json());
    }
    // --eval_seeds: the same measures over PPO's seeds, mean and sample standard deviation (eval/seed_spread.h).
    for (const std::string key : {"ppo", "ppo_ptx"})
      for (const std::string measure : {"task_success", "task_success_minus_sft", "win_rate_held_out"}) {
        const json* spread = object_at(h, {"seeds", (size == "all" ? "" : size + "/") + key, measure});
        if (!spread || !(*spread)["mean"].is_number()) continue;
        char label[128];
        std::snprintf(label, sizeof label, "%s over %lld seeds: %s (sd %.3f)", measure.c_str(),
                      static_cast<long long>(spread->value("n", 0)), key.c_str(), (*spread)["std"].get<double>());
        row(label + in, (*spread)["mean"]);
      }
    // Where along PPO the held-out labelers liked the policy best (eval/overoptimisation.h): an early peak, far below
    // the final KL, says PPO over-optimised its RM.
    for (const std::string key : {"ppo", "ppo_ptx"}) {
      const json* peak = object_at(h, {"overoptimisation_peak", key});
      if (!peak || !(*peak)["kl"].is_number()) continue;
      char label[128];
      std::snprintf(label, sizeof label, "over-optimisation: %s's best checkpoint, step %lld at KL %.2f, held-out win", key.c_str(),
                    static_cast<long long>((*peak).value("step", 0)), (*peak)["kl"].get<double>());
      row(label + in, (*peak).value("win_rate_held_out", json()));
    }
    // "I don't know" where there is no answer, and where there is one (eval/unanswerable.h).
    for (const std::string set : {"unanswerable", "answerable"})
      for (const std::string key : {"base", "sft", "ppo_ptx"}) {
        const json* share = object_at(h, {"idk", set, key});
        char label[96];
        std::snprintf(label, sizeof label, "says I don't know, %s items: %s (n %.0f)", set.c_str(), key.c_str(),
                      share ? share->value("n", 0.0) : 0.0);
        row(label + in, share ? share->value("value", json()) : json());
      }
    // Compliance with harmful requests: the benchmark's (what the goal reads), then the few harmful test prompts'.
    for (const auto& [source, words] : {std::pair<std::string, std::string>{"harmful_compliance_benchmark", "benchmark"},
                                        {"harmful_compliance", "test prompts"}})
      for (const std::string key : {"base", "sft", "ppo", "ppo_ptx"})
        if (const json* share = object_at(h, {source, key})) {
          char label[128];
          std::snprintf(label, sizeof label, "complies with harmful requests, %s: %s (n %.0f)", words.c_str(),
                        key.c_str(), share->value("n", 0.0));
          const bool measured = (*share)["value"].is_number();
          row(label + in + (measured ? " " + interval(*share) : ""), share->value("value", json()));
        }
  }
  if (report.contains("goals") && report["goals"].is_object())
    std::printf("\n%s", eval::goals_table_text(report["goals"]).c_str());
  if (report.contains("report")) std::printf("%-60s %s\n", "report", report["report"].get<std::string>().c_str());
}

}  // namespace rlhf::pipeline
