// PPO's settings chosen on validation prompts by the training labelers (issue 25): neither the test prompts nor the
// held-out labelers, whose verdicts are the evaluation's, take part in choosing them.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "eval/evaluate.h"
#include "eval/task_success.h"
#include "infer/text.h"
#include "pipeline/records.h"
#include "pipeline/stage_bodies.h"
#include "pipeline/world_judge.h"

namespace rlhf::pipeline {

using json = nlohmann::json;

std::vector<double> parse_candidates(const std::string& list, const std::string& option, bool positive) {
  std::vector<double> out;
  if (list.empty()) return out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    double value = NAN;
    try {
      value = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || !std::isfinite(value) || value < 0 || (positive && value == 0))
      fail(option, std::string(positive ? "values > 0" : "values >= 0") + ", comma-separated (e.g. 0.02,0.05,0.1)",
           "'" + item + "' in '" + list + "'");
    out.push_back(value);
  }
  if (out.size() == 1) fail(option, "two or more values to choose between", "'" + list + "'");
  return out;
}

namespace {

// The grid the stage tries: every β with every learning rate; an option without candidates keeps its one value.
std::vector<std::pair<double, double>> ppo_grid(const PipelineConfig& c) {
  std::vector<double> betas = parse_candidates(c.kl_coef_candidates, "--kl_coef_candidates", false);
  std::vector<double> rates = parse_candidates(c.ppo_learning_rate_candidates, "--ppo_learning_rate_candidates", true);
  if (betas.empty()) betas = {c.ppo.kl_coef};
  if (rates.empty()) rates = {c.ppo.train.learning_rate};
  std::vector<std::pair<double, double>> grid;
  for (double beta : betas)
    for (double rate : rates) grid.emplace_back(beta, rate);
  return grid;
}

}  // namespace

json stage_ppo_select(const PipelineConfig& c, const RunPaths& p, StageCompute& compute) {
  const auto grid = ppo_grid(c);
  auto validation = read_records(p.data("validation.jsonl"));
  if (c.ppo_select_prompts > 0 && static_cast<int64_t>(validation.size()) > c.ppo_select_prompts)
    validation.resize(static_cast<size_t>(c.ppo_select_prompts));
  std::vector<std::string> prompts;
  for (const auto& r : validation) prompts.push_back(r["prompt"].get<std::string>());
  // Sampled as the evaluation samples the test prompts, so that the choice is made on what the evaluation measures.
  eval::EvalOptions eval_options = c.eval;
  eval_options.seed = c.seed;  // as the pipeline's evaluation stage runs it
  const SamplingOptions sampling = eval::sampling_options(eval_options);
  auto respond = [&](const std::string& key, const std::string& dir) {
    TextModel m = load_text_model(key, dir, "plain", c.device, p.tokenizer());
    GenerationStats stats;
    auto responses = generate_responses(m, prompts, sampling, {}, 1, &stats);
    compute.tokens_generated += stats.tokens_generated, compute.tokens_scored += stats.tokens_prompted;
    return responses;
  };
  const WorldJudge judge(p.world());
  // The evaluation's task success (harmful requests, which are to be declined, left out) on the validation prompts.
  auto success_of = [&](const std::vector<std::string>& responses) {
    const json success = eval::task_success(judge, validation, {{"model", responses}});
    return success["model"]["value"];
  };
  const std::vector<std::string> sft = respond("sft", p.model("sft"));
  json tried = json::array();
  double best_win = -1;
  std::pair<double, double> chosen = grid.front();
  for (const auto& [beta, rate] : grid) {
    // PPO-ptx, the paper's final model, as the run will train it, with these settings (its last model only).
    PipelineConfig trial = c;
    trial.ppo.kl_coef = beta, trial.ppo.train.learning_rate = rate;
    trial.ppo_curve_points = 1;
    char name[96];
    std::snprintf(name, sizeof name, "ppo_select/kl_%g_lr_%g", beta, rate);
    StageCompute ppo_compute;
    const json ppo = stage_ppo(trial, p, ppo_compute, true, Round{1, 1}, 1, name);
    compute.tokens_generated += ppo_compute.tokens_generated, compute.tokens_scored += ppo_compute.tokens_scored;
    compute.tokens_trained += ppo_compute.tokens_trained, compute.parameters = ppo_compute.parameters;
    const std::vector<std::string> responses = respond(name, p.model(name));
    double wins = 0;
    for (size_t i = 0; i < validation.size(); ++i)
      wins += judge.compare(validation[i], responses[i], sft[i], eval::LabelerSet::kTraining);
    const double win = validation.empty() ? NAN : wins / static_cast<double>(validation.size());
    tried.push_back({{"kl_coef", beta}, {"learning_rate", rate}, {"win_rate_training_vs_sft", win},
                     {"task_success", success_of(responses)}, {"prompts", validation.size()},
                     {"last_kl", ppo.value("last_kl", 0.0)}, {"last_score", ppo.value("last_score", 0.0)}});
    if (win > best_win) best_win = win, chosen = {beta, rate};
  }
  return {{"candidates", tried}, {"chosen_kl_coef", chosen.first}, {"chosen_learning_rate", chosen.second},
          {"sft_task_success", success_of(sft)},
          {"chosen_by", "training labelers' win rate of PPO-ptx against SFT on validation prompts"}};
}

void check_ppo_candidates(const PipelineConfig& c) { ppo_grid(c); }

}  // namespace rlhf::pipeline
