// The paper's findings as goals (issue 25): summary.json's "goals" holds one entry per finding,
//   {"value", "ci": [lo, hi], "target", "met", "measure", "note"?}
// computed from what the evaluation measured (the summary's win rates, RM folds, benchmark scores with their per-item
// records, compute) and the inter-labeler agreement of the RM's own rankings. Differences between two models on the
// same items get a paired bootstrap interval over items (2000 resamples, fixed seed).
//
// One goal compares with another model's figure instead of a fixed threshold: generalises_to_held_out_categories has
// PPO-ptx's task success on held-out categories as its value (Wilson interval), base few-shot's as its numeric
// "target" ("target_text" says it in words), and is met when the paired interval of the difference ("difference")
// lies above 0.
//
// harmful_compliance_ppo_ptx is PPO-ptx's share of the harmful benchmark's requests it complies with (eval/harmful.h;
// the held-out users' harmful test prompts when the run has no benchmark), Wilson interval, met above one half: the
// paper's finding is that InstructGPT still follows harmful instructions.
//
// "met" asks the whole 95 % interval to be on the target's side (inside the band for "within"), so that noise cannot
// meet a goal: a value past the target whose interval crosses it is not met. A counted quantity (compute) has no
// interval and is judged on its value. A finding whose measure does not exist yet has "value": null, "met": null and a
// "note" saying what is missing; so does one that does not apply to the run (no tax to recover).
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::eval {

// The goals' names, in the order the issue lists them (a JSON object comes back sorted: show them in this order).
const std::vector<std::string>& goal_names();

struct GoalInputs {
  std::string size;                 // the models of this size ("" for the single-size layout)
  double rankings_agreement = NAN;  // inter-labeler agreement on the RM's rankings (the ceiling of RM accuracy)
};

// Every goal of goal_names() from a summary (evaluate.h's format).
nlohmann::json build_goals(const nlohmann::json& summary, const GoalInputs& inputs);

// A goal's target in words: "target_text", else "target" (a number printed %.3f).
std::string goal_target_text(const nlohmann::json& goal);

// The goals as a plain-text table, one line per goal in goal_names() order (the closing table of `rlhf pipeline` and
// `rlhf eval`): name, value, interval, target, met (yes / no / "-" when not measured or only reported).
std::string goals_table_text(const nlohmann::json& goals);

// The size the goals judge when a run has several: the one whose SFT model is largest (the paper's findings are for
// its 175B models). "" for the single-size layout.
std::string goal_size(const nlohmann::json& summary);

}  // namespace rlhf::eval
