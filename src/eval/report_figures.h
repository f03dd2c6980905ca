// The figures of the report, each a <figure> with an id, its SVG chart(s) and a caption line (private to eval/report).
#pragma once
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::eval::report {

// A model of the summary's "models" list.
struct ModelEntry {
  std::string id, key, size, label;  // label includes the size when there are several
};
std::vector<ModelEntry> models_of(const nlohmann::json& summary, bool include_few_shot = true);

// summary[path...] as a number; NaN when absent or not a number.
double number_at(const nlohmann::json& j, std::initializer_list<std::string> path);
// "62%" (NaN: "n/a").
std::string percent(double value);
// The size key of a model's per-size sections ("all" for the single-size layout).
inline std::string size_key(const ModelEntry& m) { return m.size.empty() ? "all" : m.size; }

// <figure id="..."> with `body` and the caption "Paper: ... This run: ...".
std::string figure(const std::string& id, const std::string& body, const std::string& paper, const std::string& run);

// fig-task-success: each model's task success on every test prompt and, when the run held task categories out of
// training, on those categories' test prompts and on the others.
std::string task_success_section(const nlohmann::json& summary);
std::string preference_section(const nlohmann::json& summary);    // fig-winrate, fig-likert, fig-metadata, table-features
std::string reward_model_section(const nlohmann::json& summary);  // fig-rm-cv, fig-rm-score
std::string truthfulness_section(const nlohmann::json& summary);  // fig-truthfulness, fig-idk, fig-hallucination
std::string toxicity_section(const nlohmann::json& summary);      // fig-toxicity, fig-harmful
std::string bias_section(const nlohmann::json& summary);          // fig-winogender, fig-crows

}  // namespace rlhf::eval::report
