#include "eval/report.h"

#include <cmath>
#include <map>

#include "common/files.h"
#include "eval/goals.h"
#include "eval/report_figures.h"
#include "eval/run_layout.h"
#include "eval/svg.h"

namespace rlhf::eval {

using json = nlohmann::json;
using report::figure;
using report::models_of;
using report::number_at;
using report::percent;

namespace {

const char* kStyle = R"(
body { font-family: Georgia, 'Times New Roman', serif; max-width: 1060px; margin: 24px auto; padding: 0 16px; color: #222; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 20px; margin-top: 36px; border-bottom: 1px solid #ccc; }
.meta { color: #555; font-size: 14px; } figure { margin: 18px 0; } figure svg { display: block; margin: 6px 0; }
figcaption { font-size: 13.5px; color: #333; max-width: 900px; line-height: 1.4; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; } th, td { border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }
th { background: #f2f2f2; } td.num { text-align: right; font-family: Menlo, Consolas, monospace; }
.table-title { font-size: 14px; font-weight: bold; margin-bottom: 2px; } .notes { font-size: 13px; color: #7a4a00; }
.curves { display: flex; flex-wrap: wrap; gap: 6px; } td.response { white-space: pre-wrap; font-family: Menlo, Consolas, monospace; font-size: 12px; max-width: 260px; }
)";

std::string cell(double v, const char* format = "%.3f") { return "<td class=\"num\">" + format_number(v, format) + "</td>"; }

std::string scientific(double v) { return format_number(v, "%.3g"); }

// The paper's findings as goals (goals.h), first on the page: what this run shows and what it does not yet.
std::string goals_section(const json& s) {
  if (!s.contains("goals") || !s["goals"].is_object() || s["goals"].empty()) return "";
  std::string table = "<table id=\"table-goals\"><tr><th>goal</th><th>measure</th><th>value</th><th>95% CI</th>"
                      "<th>target</th><th>met</th><th>note</th></tr>";
  int met = 0, missed = 0, open = 0;
  for (const auto& name : goal_names()) {
    if (!s["goals"].contains(name)) continue;
    const json& g = s["goals"][name];
    const bool judged = g.contains("met") && g["met"].is_boolean();
    const std::string verdict = !judged ? "&ndash;" : g["met"].get<bool>() ? "yes" : "<b>no</b>";
    (judged ? (g["met"].get<bool>() ? met : missed) : open) += 1;
    const bool has_ci = g.contains("ci") && g["ci"].is_array() && g["ci"].size() == 2 && g["ci"][0].is_number() &&
                        g["ci"][1].is_number();
    const std::string ci = has_ci ? "[" + format_number(g["ci"][0].get<double>(), "%.3f") + ", " +
                                        format_number(g["ci"][1].get<double>(), "%.3f") + "]"
                                  : "";
    table += "<tr><td><code>" + xml_escape(name) + "</code></td><td>" + xml_escape(g.value("measure", std::string())) +
             "</td>" + cell(number_at(g, {"value"})) + "<td class=\"num\" style=\"white-space: nowrap\">" + ci + "</td><td>" +
             xml_escape(goal_target_text(g)) + "</td><td>" + verdict + "</td><td>" +
             xml_escape(g.value("note", std::string())) + "</td></tr>";
  }
  table += "</table>";
  const std::string size = s.value("goals_size", std::string());
  return "<h2>Goals: the paper's findings on this run" + (size.empty() ? std::string() : " (" + xml_escape(size) + ")") +
         "</h2>\n" +
         figure("fig-goals", table,
                "labelers prefer InstructGPT (PPO-ptx) to SFT and SFT to prompted GPT-3; the reward model nears "
                "labeler agreement and generalises to held-out labelers; PPO pays an alignment tax on public NLP "
                "datasets that PPO-ptx mostly recovers; InstructGPT hallucinates less, is less toxic when asked to be "
                "respectful, costs little compute next to pretraining, generalises to unseen kinds of instruction, and "
                "still follows harmful instructions.",
                std::to_string(met) + " met, " + std::to_string(missed) + " not met, " + std::to_string(open) +
                    " not measured yet or only reported. A goal is met when its whole 95 % interval lies on the "
                    "target's side (differences between models: a paired bootstrap over items).");
}

std::string tax_section(const json& s) {
  if (!s.contains("alignment_tax") || s["alignment_tax"].empty()) return "";
  std::string out = "<h2>6. Alignment tax</h2>\n";
  for (const auto& [size, tax] : s["alignment_tax"].items()) {
    if (!tax.contains("models") || tax["models"].empty()) continue;
    std::string table = "<table id=\"" + std::string(size == "all" ? "table-tax" : "table-tax-" + size) + "\">"
                        "<tr><th>model</th><th>public NLP suite (accuracy)</th><th>tax vs SFT</th>"
                        "<th>held-out pretraining NLL / token</th><th>tax vs SFT</th></tr>";
    for (const auto& key : model_keys()) {  // the paper's order (a JSON object's keys come back sorted)
      if (!tax["models"].contains(key)) continue;
      const json& values = tax["models"][key];
      table += "<tr><td>" + xml_escape(model_label(key)) + "</td>" + cell(number_at(values, {"public_suite"})) +
               cell(number_at(tax, {"tax", key, "public_suite"}), "%+.3f") + cell(number_at(values, {"heldout_nll"})) +
               cell(number_at(tax, {"tax", key, "heldout_nll"}), "%+.3f") + "</tr>";
    }
    table += "<tr><td><b>PPO's tax recovered by PPO-ptx</b></td><td></td>" + cell(number_at(tax, {"recovered", "public_suite"}), "%.2f") +
             "<td></td>" + cell(number_at(tax, {"recovered", "heldout_nll"}), "%.2f") + "</tr></table>";
    std::string run = "PPO's tax on the public suite is " +
                      format_number(number_at(tax, {"tax", "ppo", "public_suite"}), "%+.3f") + " (PPO-ptx " +
                      format_number(number_at(tax, {"tax", "ppo_ptx", "public_suite"}), "%+.3f") + "), on held-out NLL " +
                      format_number(number_at(tax, {"tax", "ppo", "heldout_nll"}), "%+.3f") + " (PPO-ptx " +
                      format_number(number_at(tax, {"tax", "ppo_ptx", "heldout_nll"}), "%+.3f") + "); PPO-ptx recovers " +
                      percent(number_at(tax, {"recovered", "public_suite"})) + " of the suite tax and " +
                      percent(number_at(tax, {"recovered", "heldout_nll"})) + " of the NLL tax (n/a: PPO paid none).";
    out += figure(size == "all" ? "fig-tax" : "fig-tax-" + size, table,
                  "PPO regresses on public NLP datasets (SQuAD, DROP, HellaSwag, WMT); mixing pretraining gradients "
                  "(PPO-ptx) removes most of this tax without hurting labeler preference. Tax = SFT minus the model "
                  "(for NLL: the model minus SFT); positive is worse.",
                  run);
  }
  return out;
}

std::string compute_section(const json& s) {
  const json& compute = s.contains("compute") ? s["compute"] : json::object();
  if (!compute.contains("stages") || compute["stages"].empty()) return "";
  std::string table = "<table id=\"table-compute\"><tr><th>stage</th><th>parameters</th><th>tokens trained</th>"
                      "<th>tokens generated</th><th>tokens scored</th><th>FLOPs</th><th>petaflop/s-days</th><th>wall s</th></tr>";
  auto row = [&](const json& r, const std::string& name) {
    table += "<tr><td>" + xml_escape(name) + "</td>" + cell(number_at(r, {"parameters"}), "%.3g") +
             cell(number_at(r, {"tokens_trained"}), "%.3g") + cell(number_at(r, {"tokens_generated"}), "%.3g") +
             cell(number_at(r, {"tokens_scored"}), "%.3g") + cell(number_at(r, {"flops"}), "%.3g") +
             cell(number_at(r, {"petaflop_s_days"}), "%.3g") + cell(number_at(r, {"wall_seconds"}), "%.1f") + "</tr>";
  };
  double largest = 0;
  std::string largest_stage;
  for (const auto& r : compute["stages"]) {
    row(r, r.value("stage", std::string("?")));
    if (number_at(r, {"flops"}) > largest) largest = number_at(r, {"flops"}), largest_stage = r.value("stage", std::string());
  }
  if (compute.contains("total")) row(compute["total"], "total");  // operator[] of a const json on a missing key is UB
  table += "</table>";
  const double total = number_at(compute, {"total", "flops"});
  std::string run = "total " + scientific(total) + " FLOPs = " + scientific(number_at(compute, {"total", "petaflop_s_days"})) +
                    " petaflop/s-days in " + format_number(number_at(compute, {"total", "wall_seconds"}), "%.0f") +
                    " s; the largest stage is " + largest_stage + " (" + percent(total > 0 ? largest / total : NAN) + ").";
  return "<h2>7. Compute</h2>\n" +
         figure("fig-compute", table,
                "Fine-tuning is cheap next to pretraining: 175B SFT took 4.9 and PPO-ptx 60 petaflop/s-days, against "
                "3,640 for GPT-3's pretraining. FLOPs here = 6·N·tokens trained + 2·N·tokens generated or scored.",
                run);
}

std::string curves_section(const json& s) {
  if (!s.contains("training_curves")) return "";
  // Which metrics of which stages each small chart shows.
  struct Panel { std::string id, title, y_label; std::vector<std::pair<std::string, std::string>> curves; };
  const std::vector<Panel> panels = {
      {"curve-lm-loss", "Language-model loss", "loss", {{"base", "loss"}, {"sft", "loss"}, {"sft", "eval/loss"}, {"flan_sft", "loss"}}},
      {"curve-rm", "Reward model", "loss / accuracy", {{"rm", "loss"}, {"rm", "accuracy"}, {"rm", "eval/accuracy"}}},
      {"curve-reward", "PPO: reward-model score", "score", {{"ppo", "objective/scores"}, {"ppo_ptx", "objective/scores"}}},
      {"curve-kl", "PPO: KL to SFT", "KL (nats)", {{"ppo", "objective/kl"}, {"ppo_ptx", "objective/kl"}}},
      {"curve-ppo-loss", "PPO: losses", "loss", {{"ppo", "loss/policy_avg"}, {"ppo", "loss/value_avg"}, {"ppo_ptx", "loss/policy_avg"},
                                                 {"ppo_ptx", "loss/value_avg"}, {"ppo_ptx", "loss/ptx"}}}};
  std::string charts;
  std::string run;
  for (const auto& [size, stages] : s["training_curves"].items()) {
    for (const auto& p : panels) {
      LineChart c;
      c.id = size == "all" ? p.id : p.id + "-" + size;
      c.title = p.title + (size == "all" ? "" : " (" + size + ")");
      c.x_label = "step";
      c.y_label = p.y_label;
      for (const auto& [stage, metric] : p.curves) {
        if (!stages.contains(stage) || !stages[stage].contains(metric)) continue;
        LineSeries series{model_label(stage) + " " + metric, {}};
        for (const auto& point : stages[stage][metric]) series.points.emplace_back(point[0].get<double>(), point[1].get<double>());
        c.series.push_back(series);
      }
      if (!c.series.empty()) charts += render_line_chart(c);
    }
    for (const std::string stage : {"ppo", "ppo_ptx"}) {
      if (!stages.contains(stage) || !stages[stage].contains("objective/scores")) continue;
      const auto& scores = stages[stage]["objective/scores"];
      if (scores.empty()) continue;
      run += model_label(stage) + " score " + format_number(scores.front()[1].get<double>(), "%.2f") + " -> " +
             format_number(scores.back()[1].get<double>(), "%.2f");
      if (stages[stage].contains("objective/kl") && !stages[stage]["objective/kl"].empty())
        run += ", KL " + format_number(stages[stage]["objective/kl"].back()[1].get<double>(), "%.2f");
      run += "; ";
    }
  }
  if (charts.empty()) return "";
  return "<h2>8. Training curves</h2>\n" +
         figure("fig-curves", "<div class=\"curves\">" + charts + "</div>",
                "PPO raises the reward-model score while the per-token KL penalty (β = 0.02) keeps the policy near SFT.",
                run.empty() ? "no PPO curves in this run." : run);
}

std::string real_data_section(const json& s) {
  if (!s.contains("real_data") || s["real_data"].empty()) return "";
  std::string table = "<table id=\"table-real-data\"><tr><th>model</th><th>measure</th><th>value</th><th>95% CI</th>"
                      "<th>pairs</th><th>data</th></tr>";
  std::string run;
  for (const auto& [model_name, r] : s["real_data"].items()) {
    const std::string name = model_name;  // (a structured binding cannot be captured in C++17)
    auto line = [&](const std::string& measure, const json& p, const std::string& data) {
      table += "<tr><td>" + xml_escape(name) + "</td><td>" + measure + "</td>" + cell(number_at(p, {"value"})) + "<td>" +
               format_number(number_at(p, {"low"}), "%.3f") + "-" + format_number(number_at(p, {"high"}), "%.3f") + "</td>" +
               cell(number_at(p, {"n"}), "%.0f") + "<td>" + xml_escape(data) + "</td></tr>";
      run += name + " " + measure + " " + percent(number_at(p, {"value"})) + "; ";
    };
    if (r.contains("crows_pairs") && r["crows_pairs"].contains("stereotype_preferred"))
      line("CrowS-Pairs: stereotype more likely", r["crows_pairs"]["stereotype_preferred"], r["crows_pairs"].value("data", ""));
    if (r.contains("hh_rlhf") && r["hh_rlhf"].contains("accuracy"))
      line("HH-RLHF: preference accuracy", r["hh_rlhf"]["accuracy"], r["hh_rlhf"].value("data", ""));
    for (const auto& part : {"crows_pairs", "hh_rlhf"})
      if (r.contains(part) && r[part].contains("skipped")) run += name + ": " + r[part]["skipped"].get<std::string>() + "; ";
    if (r.contains("skipped")) run += name + ": " + r["skipped"].get<std::string>() + "; ";
  }
  table += "</table>";
  return "<h2>9. Real public data</h2>\n" +
         figure("fig-real-data", table,
                "On CrowS-Pairs InstructGPT is about as biased as GPT-3 (the stereotype preferred in well over half the "
                "pairs). (HH-RLHF is Anthropic's preference data, a check of a reward model on real human comparisons.)",
                run.empty() ? "no real-data measures." : run);
}

std::string samples_section(const json& s) {
  if (!s.contains("samples") || s["samples"].empty()) return "";
  std::string table = "<table id=\"table-samples\">";
  size_t shown = 0;
  for (const auto& [size, samples] : s["samples"].items()) {
    // Columns in the order of the models list (a JSON object's keys come back sorted).
    std::vector<report::ModelEntry> columns;
    for (const auto& m : models_of(s))
      if (m.size == (size == "all" ? "" : size)) columns.push_back(m);
    table += "<tr><th>prompt</th>";
    for (const auto& m : columns) table += "<th>" + xml_escape(m.label) + "</th>";
    table += "</tr>";
    for (const auto& sample : samples) {
      if (!sample.is_object() || !sample.contains("responses") || !sample["responses"].is_object()) continue;
      const json& responses = sample["responses"];
      table += "<tr><td class=\"response\"><i>" + xml_escape(sample.value("task", "")) + "</i>\n" +
               xml_escape(sample.value("prompt", "")) + "</td>";
      for (const auto& m : columns) {
        const std::string text = responses.contains(m.id) && responses[m.id].is_string() ? responses[m.id].get<std::string>() : "";
        table += "<td class=\"response\">" + xml_escape(text) + "</td>";
      }
      table += "</tr>";
      ++shown;
    }
  }
  table += "</table>";
  return "<h2>10. Samples</h2>\n" +
         figure("fig-samples", table,
                "GPT-3 continues the text of an instruction; InstructGPT follows it (and says when it cannot).",
                std::to_string(shown) + " test prompts from held-out users, each model's response as the labelers saw it.");
}

}  // namespace

std::string render_report_html(const json& s) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<title>rlhf.cpp evaluation report</title><style>" + std::string(kStyle) + "</style></head><body>\n";
  html += "<h1>Training language models to follow instructions: this run's results</h1>\n";
  html += "<p class=\"meta\">Run <code>" + xml_escape(s.value("run", std::string("(models)"))) + "</code>";
  if (s.contains("judge")) html += " &middot; judged by " + xml_escape(s["judge"].get<std::string>());
  if (s.contains("options") && s["options"].is_object())
    for (const auto& [name, value] : s["options"].items())
      html += " &middot; " + xml_escape(name) + " " + xml_escape(value.is_string() ? value.get<std::string>() : value.dump());
  html += "<br>Every number below was computed by <code>rlhf eval</code> from the models' outputs in this run "
          "(summary.json beside this page holds them all). Sentences starting with \"Paper:\" quote the InstructGPT "
          "paper (Ouyang et al. 2022) for comparison.</p>\n";
  if (s.contains("notes") && !s["notes"].empty()) {
    html += "<ul class=\"notes\" id=\"notes\">";
    for (const auto& n : s["notes"]) html += "<li>" + xml_escape(n.get<std::string>()) + "</li>";
    html += "</ul>\n";
  }
  html += goals_section(s);
  html += report::task_success_section(s);
  html += report::preference_section(s);
  html += report::reward_model_section(s);
  html += report::truthfulness_section(s);
  html += report::toxicity_section(s);
  html += report::bias_section(s);
  html += tax_section(s);
  html += compute_section(s);
  html += curves_section(s);
  html += real_data_section(s);
  html += samples_section(s);
  html += "</body></html>\n";
  return html;
}

void write_report(const std::string& dir, const json& summary) {
  make_dirs(dir);
  write_file_atomic(dir + "/summary.json", summary.dump(1) + "\n");
  write_file_atomic(dir + "/report.html", render_report_html(summary));
}

}  // namespace rlhf::eval
