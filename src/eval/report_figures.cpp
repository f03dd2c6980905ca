#include "eval/report_figures.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <set>

#include "eval/run_layout.h"
#include "eval/svg.h"

namespace rlhf::eval::report {

using json = nlohmann::json;

std::vector<ModelEntry> models_of(const json& summary, bool include_few_shot) {
  std::vector<ModelEntry> out;
  if (!summary.contains("models") || !summary["models"].is_array()) return out;
  std::set<std::string> sizes;
  for (const auto& m : summary["models"]) sizes.insert(m.value("size", std::string()));
  for (const auto& m : summary["models"]) {
    ModelEntry e{m.value("id", std::string()), m.value("key", std::string()), m.value("size", std::string()), ""};
    if (!include_few_shot && e.key == "base_few_shot") continue;
    e.label = model_label(e.key) + (sizes.size() > 1 ? " " + e.size : "");
    out.push_back(e);
  }
  return out;
}

double number_at(const json& j, std::initializer_list<std::string> path) {
  const json* at = &j;
  for (const auto& key : path) {
    if (!at->is_object() || !at->contains(key)) return NAN;
    at = &(*at)[key];
  }
  return at->is_number() ? at->get<double>() : NAN;
}

std::string percent(double value) { return std::isfinite(value) ? format_number(100 * value, "%.0f") + "%" : "n/a"; }

std::string figure(const std::string& id, const std::string& body, const std::string& paper, const std::string& run) {
  return "<figure id=\"" + xml_escape(id) + "\">" + body + "<figcaption><b>Paper:</b> " + xml_escape(paper) +
         " <b>This run:</b> " + xml_escape(run) + "</figcaption></figure>\n";
}

namespace {

// One series of a per-model bar chart: a name and, for each model, (value, low, high).
struct Spec {
  std::string name;
  std::function<std::array<double, 3>(const ModelEntry&)> get;
};

BarChart per_model_chart(const std::string& id, const std::string& title, const std::string& y_label,
                         const std::vector<ModelEntry>& models, const std::vector<Spec>& specs) {
  BarChart c;
  c.id = id, c.title = title, c.y_label = y_label;
  for (const auto& m : models) c.categories.push_back(m.label);
  for (const auto& spec : specs) {
    BarSeries s;
    s.name = spec.name;
    for (const auto& m : models) {
      auto v = spec.get(m);
      s.values.push_back(v[0]), s.low.push_back(v[1]), s.high.push_back(v[2]);
    }
    c.series.push_back(s);
  }
  return c;
}

// A proportion {value, low, high} at `node` as (value, low, high).
std::array<double, 3> proportion(const json& node) {
  return {number_at(node, {"value"}), number_at(node, {"low"}), number_at(node, {"high"})};
}

// An estimate {value, ci: [low, high]} at `node` as (value, low, high).
std::array<double, 3> estimate(const json& node) {
  const bool has_ci = node.contains("ci") && node["ci"].is_array() && node["ci"].size() == 2 &&
                      node["ci"][0].is_number() && node["ci"][1].is_number();
  return {number_at(node, {"value"}), has_ci ? node["ci"][0].get<double>() : NAN,
          has_ci ? node["ci"][1].get<double>() : NAN};
}

const json& child(const json& j, std::initializer_list<std::string> path) {
  static const json empty = json::object();
  const json* at = &j;
  for (const auto& key : path) {
    if (!at->is_object() || !at->contains(key)) return empty;
    at = &(*at)[key];
  }
  return *at;
}

const ModelEntry* find(const std::vector<ModelEntry>& models, const std::string& key) {
  for (const auto& m : models)
    if (m.key == key) return &m;
  return nullptr;
}

bool any_model_has(const json& summary, const std::string& section) {
  return summary.contains(section) && summary[section].is_object() && !summary[section].empty();
}

}  // namespace

std::string task_success_section(const json& s) {
  if (!any_model_has(s, "task_success")) return "";
  const auto models = models_of(s);
  const json& held_out = child(s, {"held_out_categories"});
  std::string categories;
  if (held_out.contains("categories") && held_out["categories"].is_array())
    for (const auto& name : held_out["categories"])
      if (name.is_string()) categories += (categories.empty() ? "" : ", ") + name.get<std::string>();
  const bool has_held_out = !categories.empty() && any_model_has(held_out, "held_out");
  std::vector<Spec> sets = {{"all test prompts", [&](const ModelEntry& m) { return estimate(child(s, {"task_success", m.id})); }}};
  if (has_held_out) {
    sets.push_back({"held-out categories (" + categories + ")",
                    [&](const ModelEntry& m) { return estimate(child(held_out, {"held_out", m.id})); }});
    sets.push_back({"categories trained on",
                    [&](const ModelEntry& m) { return estimate(child(held_out, {"trained_on", m.id})); }});
  }
  BarChart chart = per_model_chart("chart-task-success",
                                   "Task success: the checker says correct and every constraint kept (95% Wilson "
                                   "intervals)",
                                   "share of test prompts", models, sets);
  chart.y_max = 1;
  std::string run;
  for (const auto& m : models)
    if (m.key == "base_few_shot" || m.key == "sft" || m.key == "ppo_ptx") {
      const json& all = child(s, {"task_success", m.id});
      run += m.label + " " + percent(number_at(all, {"value"})) + " (n " + format_number(number_at(all, {"n"}), "%.0f") + ")";
      if (has_held_out) {
        const json& h = child(held_out, {"held_out", m.id});
        run += ", held-out categories " + percent(number_at(h, {"value"})) + " (95% CI " + percent(estimate(h)[1]) + "-" +
               percent(estimate(h)[2]) + ", n " + format_number(number_at(h, {"n"}), "%.0f") + ")";
      }
      run += "; ";
    }
  if (!categories.empty() && !has_held_out)
    run += "no test prompt judged is of the held-out categories (" + categories + "). ";
  if (has_held_out)
    for (const auto& [pair, d] : child(held_out, {"differences"}).items())
      run += "held-out categories, " + pair + ": " + format_number(number_at(d, {"value"}), "%+.3f") + " (paired 95% CI " +
             format_number(estimate(d)[1], "%+.3f") + " to " + format_number(estimate(d)[2], "%+.3f") + "); ";
  if (categories.empty()) run += "every task category was trained on (rlhf pipeline --held_out_categories keeps some out).";
  return "<h2>Task success</h2>\n" +
         figure("fig-task-success", render_bar_chart(chart),
                "InstructGPT follows instructions of kinds that were rare or absent in its fine-tuning data (code, "
                "other languages) better than GPT-3 prompted to; here, categories kept out of SFT, RM and PPO data "
                "play that part (--held_out_categories).",
                run);
}

std::string preference_section(const json& s) {
  if (!any_model_has(s, "preference")) return "";
  auto models = models_of(s);
  auto pref = [&](const ModelEntry& m, const std::string& set) -> const json& {
    return child(s, {"preference", size_key(m), "models", m.id, set});
  };
  bool held_out = false;
  for (const auto& m : models) held_out |= pref(m, "held_out").contains("win_rate");
  std::vector<Spec> sets = {{"training labelers", [&](const ModelEntry& m) { return proportion(child(pref(m, "training"), {"win_rate"})); }}};
  if (held_out)
    sets.push_back({"held-out labelers", [&](const ModelEntry& m) { return proportion(child(pref(m, "held_out"), {"win_rate"})); }});
  // The same outcomes with the length difference regressed out (eval/length_control.h): what is left of a win at
  // equal length.
  const std::string lc_set = held_out ? "held_out" : "training";
  sets.push_back({(held_out ? "held-out" : "training") + std::string(" labelers, length-controlled"),
                  [&](const ModelEntry& m) { return estimate(child(pref(m, lc_set), {"win_rate_length_controlled"})); }});
  BarChart win = per_model_chart("chart-winrate",
                                 "Win rate against SFT (ties count half; 95% Wilson intervals; length-controlled: "
                                 "bootstrap intervals)",
                                 "win rate vs SFT", models, sets);
  win.y_max = 1;
  win.reference_lines.push_back({"SFT", 0.5});
  std::string run;
  double best = -1;
  std::string best_label;
  for (const auto& m : models) {
    double t = number_at(pref(m, "training"), {"win_rate", "value"});
    if (m.key != "sft" && std::isfinite(t) && t > best) best = t, best_label = m.label;
  }
  if (const ModelEntry* ptx = find(models, "ppo_ptx")) {
    run = "PPO-ptx wins " + percent(number_at(pref(*ptx, "training"), {"win_rate", "value"})) + " (95% CI " +
          percent(number_at(pref(*ptx, "training"), {"win_rate", "low"})) + "-" +
          percent(number_at(pref(*ptx, "training"), {"win_rate", "high"})) + ") against SFT with training labelers";
    if (held_out) run += " and " + percent(number_at(pref(*ptx, "held_out"), {"win_rate", "value"})) + " with held-out labelers";
    const json& lc = child(pref(*ptx, lc_set), {"win_rate_length_controlled"});
    run += "; at equal length (length-controlled, " + std::string(held_out ? "held-out" : "training") + " labelers) " +
           percent(number_at(lc, {"value"})) + " (95% CI " + percent(estimate(lc)[1]) + "-" + percent(estimate(lc)[2]) +
           ", responses " + format_number(number_at(lc, {"mean_length_difference"}), "%+.1f") +
           " words longer than SFT's on average). ";
  }
  if (const ModelEntry* base = find(models, "base"))
    run += "Base: " + percent(number_at(pref(*base, "training"), {"win_rate", "value"})) + ". ";
  if (!best_label.empty()) run += "Most preferred: " + best_label + " (" + percent(best) + ").";
  // rlhf pipeline --eval_seeds: PPO's own luck beside the judges' (eval/seed_spread.h).
  for (const auto& m : models) {
    const json& seeds = child(s, {"seeds", size_key(m), m.id});
    if (!seeds.contains("seeds") || (m.key != "ppo" && m.key != "ppo_ptx")) continue;
    auto spread = [&](const std::string& measure, bool as_percent) {
      const json& x = child(seeds, {measure});
      auto show = [&](double v) { return as_percent ? percent(v) : format_number(v, "%.3f"); };
      return show(number_at(x, {"mean"})) + " (sd " + show(number_at(x, {"std"})) + ", " + show(number_at(x, {"min"})) +
             "-" + show(number_at(x, {"max"})) + ")";
    };
    run += " Over " + format_number(number_at(seeds, {"task_success", "n"}), "%.0f") + " PPO seeds, " + m.label +
           ": held-out labelers' win rate " + spread("win_rate_held_out", true) + ", task success " +
           spread("task_success", true) + ".";
  }
  std::string out = "<h2>1. Labeler preference</h2>\n";
  out += figure("fig-winrate", render_bar_chart(win),
                "175B InstructGPT (PPO-ptx) outputs are preferred to GPT-3's 85 ± 3% of the time and to few-shot GPT-3's "
                "71 ± 4%; even the 1.3B PPO-ptx model beats 175B GPT-3. Held-out labelers show the same ordering.",
                run);

  std::vector<Spec> likert_sets;
  for (const std::string set : {"training", "held_out"}) {
    if (set == "held_out" && !held_out) continue;
    likert_sets.push_back({set == "training" ? "training labelers" : "held-out labelers", [&, set](const ModelEntry& m) {
      double mean = number_at(pref(m, set), {"likert", "mean"}), se = number_at(pref(m, set), {"likert", "stderr"});
      return std::array<double, 3>{mean, mean - se, mean + se};
    }});
  }
  BarChart likert = per_model_chart("chart-likert", "Likert score (1-7) of each model's outputs (± 1 standard error)",
                                    "mean Likert", models, likert_sets);
  likert.y_min = 1, likert.y_max = 7;
  std::string likert_run;
  for (const auto& m : models)
    likert_run += m.label + " " + format_number(number_at(pref(m, "training"), {"likert", "mean"}), "%.2f") + "; ";
  out += figure("fig-likert", render_bar_chart(likert),
                "InstructGPT's outputs get higher 1-7 ratings than GPT-3's and GPT-3 prompted's at every size.",
                "mean rating by training labelers: " + likert_run);

  std::vector<Spec> flags;
  for (const auto& [name, field] : std::vector<std::pair<std::string, std::string>>{
           {"fails to follow instruction", "fails_to_follow"}, {"hallucination", "hallucination"},
           {"inappropriate for customer assistant", "inappropriate"}}) {
    const std::string flag = field;  // (a structured binding cannot be captured in C++17)
    flags.push_back({name, [&, flag](const ModelEntry& m) { return proportion(child(pref(m, "training"), {flag})); }});
  }
  BarChart meta = per_model_chart("chart-metadata", "Metadata flags set by training labelers", "share of outputs", models, flags);
  meta.y_max = 1;
  meta.value_format = "%.2f";
  std::string meta_run;
  for (const auto& key : {"base", "sft", "ppo_ptx"})
    if (const ModelEntry* m = find(models, key))
      meta_run += m->label + " fails to follow " + percent(number_at(pref(*m, "training"), {"fails_to_follow", "value"})) +
                  ", hallucinates " + percent(number_at(pref(*m, "training"), {"hallucination", "value"})) + "; ";
  out += figure("fig-metadata", render_bar_chart(meta),
                "InstructGPT follows explicit constraints more often, attempts the correct instruction more often, and "
                "hallucinates less than GPT-3 in closed-domain tasks; it is more appropriate for a customer assistant.",
                meta_run);

  // The checker's view of the same outputs.
  std::string table = "<table id=\"table-features\"><tr><th>model</th><th>correct</th><th>followed constraint</th>"
                      "<th>hallucination</th><th>toxic</th><th>says I don't know</th><th>words</th></tr>";
  for (const auto& m : models) {
    const json& f = child(s, {"preference", size_key(m), "models", m.id, "features"});
    table += "<tr><td>" + xml_escape(m.label) + "</td><td>" + percent(number_at(f, {"correct"})) + "</td><td>" +
             percent(number_at(f, {"followed"})) + "</td><td>" + percent(number_at(f, {"hallucination"})) + "</td><td>" +
             percent(number_at(f, {"toxic"})) + "</td><td>" + percent(number_at(f, {"idk"})) + "</td><td>" +
             format_number(number_at(f, {"words"}), "%.1f") + "</td></tr>";
  }
  out += "<p class=\"table-title\">What the task checkers read off the same test responses (means over prompts)</p>" +
         table + "</table>\n";
  return out;
}

std::string reward_model_section(const json& s) {
  std::string out;
  const json& cv = child(s, {"rm_generalisation"});
  const double agreement = number_at(cv, {"agreement", "mean"});
  if (cv.contains("folds") && cv["folds"].is_array() && !cv["folds"].empty()) {
    BarChart c;
    c.id = "chart-rm-cv", c.title = "Reward-model accuracy per fold (train on 4 labeler groups, test on the 5th)";
    c.y_label = "pairwise accuracy";
    c.y_max = 1;
    BarSeries train{"training groups (held-out prompts)", {}, {}, {}}, held_out{"held-out group", {}, {}, {}};
    for (const auto& f : cv["folds"]) {
      c.categories.push_back("group " + std::to_string(f.value("held_out_group", 0)));
      train.values.push_back(number_at(f, {"train_accuracy"}));
      held_out.values.push_back(number_at(f, {"held_out_accuracy"}));
    }
    c.series = {train, held_out};
    c.reference_lines.push_back({"inter-labeler agreement", agreement});
    std::string run = "training groups " + percent(number_at(cv, {"train_accuracy", "mean"})) + " ± " +
                      percent(number_at(cv, {"train_accuracy", "std"})) + ", held-out group " +
                      percent(number_at(cv, {"held_out_accuracy", "mean"})) + " ± " +
                      percent(number_at(cv, {"held_out_accuracy", "std"})) + "; inter-labeler agreement " +
                      percent(agreement) + ".";
    out += figure("fig-rm-cv", render_bar_chart(c),
                  "RMs predict held-out labelers' preferences at 69.6 ± 0.9%, close to the 72.4 ± 0.4% on their training "
                  "groups; labelers agree with each other 72.6 ± 1.5% (training) and 77.3 ± 1.3% (held-out) of the time.",
                  run);
  }
  if (any_model_has(s, "rm_score")) {
    auto models = models_of(s);
    BarChart c = per_model_chart("chart-rm-score", "Mean reward-model score of the test responses (± 1 standard error)",
                                 "reward (demonstrations = 0)", models,
                                 {{"reward", [&](const ModelEntry& m) {
                                   const json& r = child(s, {"rm_score", size_key(m), m.id});
                                   double mean = number_at(r, {"mean"}), se = number_at(r, {"stderr"});
                                   return std::array<double, 3>{mean, mean - se, mean + se};
                                 }}});
    // Rewards can be negative: the axis starts a little below the lowest error bar (or at 0).
    double low = 0, high = 0;
    for (const auto& series : c.series) {
      for (double v : series.low) if (std::isfinite(v)) low = std::min(low, v);
      for (double v : series.high) if (std::isfinite(v)) high = std::max(high, v);
    }
    c.y_min = low < 0 ? low - 0.08 * (high - low) : 0;
    std::string run;
    for (const auto& m : models)
      run += m.label + " " + format_number(number_at(s, {"rm_score", size_key(m), m.id, "mean"}), "%.2f") + "; ";
    out += figure("fig-rm-score", render_bar_chart(c),
                  "PPO raises the reward model's score of the policy's outputs well above SFT's (the quantity it optimises).",
                  run);
  }
  if (s.contains("overoptimisation") && s["overoptimisation"].is_object() && !s["overoptimisation"].empty()) {
    // Gao et al. (2022): against the KL to SFT, the RM's score keeps rising; the labelers' preference peaks and falls.
    LineChart reward, preference;
    reward.id = "chart-overopt-rm", reward.title = "RM score of PPO checkpoints", reward.x_label = "KL to SFT (nats)";
    reward.y_label = "mean RM score";
    preference.id = "chart-overopt-win", preference.title = "Held-out labelers' win rate vs SFT";
    preference.x_label = "KL to SFT (nats)", preference.y_label = "win rate";
    std::string run;
    for (const auto& [key, curve] : s["overoptimisation"].items()) {
      LineSeries r{key, {}}, w{key, {}};
      for (const auto& point : curve.value("points", json::array())) {
        const double kl = number_at(point, {"kl"});
        if (!std::isfinite(kl)) continue;
        r.points.push_back({kl, number_at(point, {"rm_score"})});
        w.points.push_back({kl, number_at(point, {"win_rate_held_out", "value"})});
      }
      reward.series.push_back(r), preference.series.push_back(w);
      run += key + ": peak " + format_number(number_at(curve, {"peak", "win_rate_held_out"}), "%.2f") + " at KL " +
             format_number(number_at(curve, {"peak", "kl"}), "%.2f") + " (step " +
             format_number(number_at(curve, {"peak", "step"}), "%.0f") + " of " +
             format_number(curve.contains("points") && curve["points"].is_array() && !curve["points"].empty()
                                       ? number_at(curve["points"].back(), {"step"}) : NAN, "%.0f") + "); ";
    }
    out += figure("fig-overoptimisation", render_line_chart(reward) + render_line_chart(preference),
                  "(Gao et al. 2022, not InstructGPT) The proxy reward rises monotonically with KL to the initial policy; the "
                  "gold preference rises, peaks and falls: the policy over-optimises its reward model.",
                  run);
  }
  return out.empty() ? "" : "<h2>2. Reward model</h2>\n" + out;
}

std::string truthfulness_section(const json& s) {
  std::string out;
  auto models = models_of(s, false);
  if (any_model_has(s, "truthfulness")) {
    auto get = [&](const std::string& condition, const std::string& field) {
      return [&s, condition, field](const ModelEntry& m) { return proportion(child(s, {"truthfulness", m.id, condition, field})); };
    };
    BarChart c = per_model_chart("chart-truthfulness", "TruthfulQA analogue: truthful and truthful-and-informative answers",
                                 "share of answers", models,
                                 {{"truthful, QA prompt", get("plain", "truthful")},
                                  {"truthful+informative, QA prompt", get("plain", "truthful_and_informative")},
                                  {"truthful, Instruction+QA", get("instruction_qa", "truthful")},
                                  {"truthful+informative, Instruction+QA", get("instruction_qa", "truthful_and_informative")}});
    c.y_max = 1;
    std::string run;
    for (const auto& key : {"base", "sft", "ppo", "ppo_ptx"})
      if (const ModelEntry* m = find(models, key))
        run += m->label + " truthful " + percent(number_at(s, {"truthfulness", m->id, "plain", "truthful", "value"})) +
               " (truthful+informative " +
               percent(number_at(s, {"truthfulness", m->id, "plain", "truthful_and_informative", "value"})) +
               "), with Instruction+QA " + percent(number_at(s, {"truthfulness", m->id, "instruction_qa", "truthful", "value"})) + "; ";
    out += figure("fig-truthfulness", render_bar_chart(c),
                  "PPO models are more truthful and informative than GPT-3 on TruthfulQA (about twice as often); with the "
                  "Instruction+QA prompt they say \"I don't know\" more rather than being confidently wrong.",
                  run);
  }
  if (any_model_has(s, "idk")) {
    auto share = [&](const char* set) {
      return [&s, set](const ModelEntry& m) { return proportion(child(s, {"idk", m.id, set})); };
    };
    BarChart c = per_model_chart("chart-idk",
                                 "Says \"I don't know\": unanswerable vs answerable items (test prompts and the TruthfulQA "
                                 "analogue, plain; 95% Wilson intervals)",
                                 "share of responses", models,
                                 {{"unanswerable (should decline)", share("unanswerable")},
                                  {"answerable (should answer)", share("answerable")}});
    c.y_max = 1;
    std::string run;
    for (const auto& key : {"base", "sft", "ppo", "ppo_ptx"})
      if (const ModelEntry* m = find(models, key))
        run += m->label + " " + percent(number_at(s, {"idk", m->id, "unanswerable", "value"})) + " of " +
               format_number(number_at(s, {"idk", m->id, "unanswerable", "n"}), "%.0f") + " unanswerable, " +
               percent(number_at(s, {"idk", m->id, "answerable", "value"})) + " of " +
               format_number(number_at(s, {"idk", m->id, "answerable", "n"}), "%.0f") + " answerable; ";
    out += figure("fig-idk", render_bar_chart(c),
                  "InstructGPT is more truthful partly by declining: asked about what does not exist or is not in the "
                  "text, it says it does not know more often than GPT-3 (and, as a side effect, sometimes hedges where "
                  "it could answer).",
                  run);
  }
  if (any_model_has(s, "hallucination")) {
    BarChart c = per_model_chart("chart-hallucination", "Closed-domain hallucination (summarization, closed QA)",
                                 "share of responses with made-up content", models,
                                 {{"hallucination rate", [&](const ModelEntry& m) { return proportion(child(s, {"hallucination", m.id, "rate"})); }},
                                  {"correct, nothing made up", [&](const ModelEntry& m) { return proportion(child(s, {"hallucination", m.id, "correct_and_clean"})); }}});
    c.y_max = 1;
    std::string run;
    for (const auto& m : models)
      run += m.label + " " + percent(number_at(s, {"hallucination", m.id, "rate", "value"})) + " (correct and clean " +
             percent(number_at(s, {"hallucination", m.id, "correct_and_clean", "value"})) + ", empty " +
             percent(number_at(s, {"hallucination", m.id, "empty", "value"})) + "); ";
    out += figure("fig-hallucination", render_bar_chart(c),
                  "InstructGPT hallucinates about half as often as GPT-3 on closed-domain tasks (21% vs 41%).", run);
  }
  return out.empty() ? "" : "<h2>3. Truthfulness and hallucination</h2>\n" + out;
}

namespace {

// fig-harmful: each model's compliance with harmful requests (eval/harmful.h), on the harmful benchmark and on the
// held-out users' harmful test prompts.
std::string harmful_figure(const json& s) {
  if (!any_model_has(s, "harmful_compliance_benchmark") && !any_model_has(s, "harmful_compliance")) return "";
  const auto models = models_of(s);
  BarChart c = per_model_chart(
      "chart-harmful", "Complies with a harmful request (95% Wilson intervals)", "share of harmful requests", models,
      {{"harmful benchmark", [&](const ModelEntry& m) { return estimate(child(s, {"harmful_compliance_benchmark", m.id})); }},
       {"harmful test prompts", [&](const ModelEntry& m) { return estimate(child(s, {"harmful_compliance", m.id})); }}});
  c.y_max = 1;
  std::string run;
  for (const auto& m : models) {
    const json& bench = child(s, {"harmful_compliance_benchmark", m.id});
    const json& test = child(s, {"harmful_compliance", m.id});
    run += m.label + " complies with " + percent(number_at(bench, {"value"})) + " of " +
           format_number(number_at(bench, {"n"}), "%.0f") + " benchmark requests (refuses " +
           percent(number_at(bench, {"refusal", "value"})) + "), " + percent(number_at(test, {"value"})) + " of " +
           format_number(number_at(test, {"n"}), "%.0f") + " test prompts; ";
  }
  return figure("fig-harmful", render_bar_chart(c),
                "Labelers were told to prioritise harmlessness, yet InstructGPT still follows harmful instructions: "
                "asked for a biased or made-up claim, or for something toxic, it mostly complies.",
                run + "labelers here decline every harmful request (insult, private details, false claim).");
}

}  // namespace

std::string toxicity_section(const json& s) {
  if (!any_model_has(s, "toxicity")) {
    const std::string harmful = harmful_figure(s);
    return harmful.empty() ? "" : "<h2>4. Toxicity and harmful requests</h2>\n" + harmful;
  }
  auto models = models_of(s, false);
  auto emt = [&](const std::string& condition) {
    return [&s, condition](const ModelEntry& m) {
      double v = number_at(s, {"toxicity", m.id, condition, "expected_max_toxicity"});
      double se = number_at(s, {"toxicity", m.id, condition, "expected_max_toxicity_stderr"});
      return std::array<double, 3>{v, v - se, v + se};
    };
  };
  auto probability = [&](const std::string& condition) {
    return [&s, condition](const ModelEntry& m) {
      return std::array<double, 3>{number_at(s, {"toxicity", m.id, condition, "toxic_probability"}), NAN, NAN};
    };
  };
  BarChart a = per_model_chart("chart-toxicity", "Expected maximum toxicity over samples (± 1 standard error)",
                               "expected max toxicity", models, {{"no instruction", emt("plain")}, {"respectful instruction", emt("respectful")}});
  a.y_max = 1;
  BarChart b = per_model_chart("chart-toxic-probability", "Toxic probability (share of prompts with a sample >= 0.5)",
                               "toxic probability", models,
                               {{"no instruction", probability("plain")}, {"respectful instruction", probability("respectful")}});
  b.y_max = 1;
  std::string run;
  for (const auto& key : {"base", "sft", "ppo_ptx"})
    if (const ModelEntry* m = find(models, key))
      run += m->label + " " + format_number(number_at(s, {"toxicity", m->id, "plain", "expected_max_toxicity"}), "%.2f") +
             " without / " + format_number(number_at(s, {"toxicity", m->id, "respectful", "expected_max_toxicity"}), "%.2f") +
             " with the respectful instruction; ";
  const double k = number_at(s, {"toxicity", models.empty() ? "" : models.front().id, "samples_per_prompt"});
  run += "(" + format_number(k, "%.0f") + " samples per prompt)";
  return "<h2>4. Toxicity and harmful requests</h2>\n" +
         figure("fig-toxicity", render_bar_chart(a) + render_bar_chart(b),
                "Asked to be respectful, InstructGPT produces about 25% fewer toxic outputs than GPT-3; without that "
                "instruction the advantage disappears.",
                run) +
         harmful_figure(s);
}

std::string bias_section(const json& s) {
  const json& bias = child(s, {"bias"});
  if (bias.empty()) return "";
  auto models = models_of(s, false);
  std::string out = "<h2>5. Bias</h2>\n";
  if (bias.contains("winogender")) {
    auto get = [&](const std::string& condition) {
      return [&s, condition](const ModelEntry& m) {
        double v = number_at(s, {"bias", "winogender", m.id, condition, "normalised_entropy", "mean"});
        double se = number_at(s, {"bias", "winogender", m.id, condition, "normalised_entropy", "stderr"});
        return std::array<double, 3>{v, v - se, v + se};
      };
    };
    BarChart c = per_model_chart("chart-winogender", "Winogender analogue: normalised entropy of he/she/they (1 = no preference)",
                                 "normalised entropy", models, {{"no instruction", get("plain")}, {"respectful instruction", get("respectful")}});
    c.y_max = 1;
    std::string run;
    for (const auto& m : models)
      run += m.label + " " + format_number(number_at(s, {"bias", "winogender", m.id, "plain", "normalised_entropy", "mean"}), "%.2f") + "; ";
    out += figure("fig-winogender", render_bar_chart(c),
                  "InstructGPT is not less biased than GPT-3 on Winogender; with the respectful instruction its entropy is "
                  "lower (more certain, more biased).",
                  run);
  }
  if (bias.contains("crows_pairs")) {
    auto get = [&](const std::string& condition) {
      return [&s, condition](const ModelEntry& m) { return proportion(child(s, {"bias", "crows_pairs", m.id, condition, "stereotype_preferred"})); };
    };
    BarChart c = per_model_chart("chart-crows", "CrowS-Pairs analogue: share of pairs where the stereotype is more likely",
                                 "stereotype preferred", models, {{"no instruction", get("plain")}, {"respectful instruction", get("respectful")}});
    c.y_max = 1;
    c.reference_lines.push_back({"unbiased", 0.5});
    std::string run;
    for (const auto& m : models)
      run += m.label + " " + percent(number_at(s, {"bias", "crows_pairs", m.id, "plain", "stereotype_preferred", "value"})) + "; ";
    out += figure("fig-crows", render_bar_chart(c),
                  "No significant improvement over GPT-3 on CrowS-Pairs; the respectful instruction does not reduce bias.",
                  run);
  }
  return out;
}

}  // namespace rlhf::eval::report
