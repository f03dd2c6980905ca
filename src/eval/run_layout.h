// The run directory that `rlhf pipeline` writes and `rlhf eval` reads. One place for every path, so the two agree.
//
//   RUN/
//     tokenizer/                  the run's tokenizer (used for a model directory that lacks its own tokenizer files)
//     world/                      the world (`rlhf world --out RUN/world`): world.json, corpus.jsonl,
//                                 heldout_corpus.jsonl, prompt_log.jsonl, benchmarks/*.jsonl
//     data/
//       sft.jsonl                 labelers' demonstrations {"prompt", "completion"} (the SFT training set; the first
//                                 few are the "base few-shot" prefix)
//       test.jsonl                test prompts from held-out users: prompt records {"prompt", "task", "task_data", ...}
//       held_out_categories.json  {"categories": [...]}: task categories kept out of training (none when absent)
//     models/                     one HF model directory per model (config.json, model.safetensors, tokenizer files,
//                                 and the metrics.jsonl of the stage that trained it):
//       base/  flan_sft/  sft/  rm/  ppo/  ppo_ptx/
//       ppo_seedN/  ppo_ptx_seedN/    --eval_seeds N: PPO and PPO-ptx again with seed number N >= 2
//       ppo_select/kl_B_lr_L/         --kl_coef_candidates / --ppo_learning_rate_candidates: PPO-ptx per setting tried
//       (the `paper` preset: models/SIZE/{base,...} for each size, e.g. models/small/sft)
//     compute.json                compute per stage: {STAGE: {parameters, tokens_trained, tokens_generated,
//                                 tokens_scored, seconds}} or {"stages": [ComputeRecord...]} (eval/compute.h)
//     rm_cv.json                  {"folds": [RmFold...]}: RM accuracy per labeler-group fold (eval/rm_generalisation.h)
//     stages/rankings.json        the rankings stage's record: {"summary": {"inter_labeler_agreement", ...}, ...}
//     report/
//       summary.json              every number the report shows
//       report.html               one static page, inline SVG
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rlhf::eval {

// The models the evaluation knows, in the order the paper's figures list them. "base_few_shot" is the base model with a
// few-shot prefix, not a directory of its own.
inline const std::vector<std::string>& model_keys() {
  static const std::vector<std::string> keys = {"base", "base_few_shot", "flan_sft", "sft", "ppo", "ppo_ptx"};
  return keys;
}

// "PPO-ptx" and so on, as the paper names them.
inline std::string model_label(const std::string& key) {
  if (key == "base") return "Base";
  if (key == "base_few_shot") return "Base few-shot";
  if (key == "flan_sft") return "FLAN-style SFT";
  if (key == "sft") return "SFT";
  if (key == "ppo") return "PPO";
  if (key == "ppo_ptx") return "PPO-ptx";
  if (key == "rm") return "Reward model";
  return key;
}

struct RunLayout {
  std::string root;

  explicit RunLayout(std::string run_dir) : root(std::move(run_dir)) {}

  std::string tokenizer_dir() const { return root + "/tokenizer"; }
  std::string world_dir() const { return root + "/world"; }
  std::string heldout_corpus() const { return world_dir() + "/heldout_corpus.jsonl"; }
  std::string data_dir() const { return root + "/data"; }
  std::string demonstrations() const { return data_dir() + "/sft.jsonl"; }
  std::string test_prompts() const { return data_dir() + "/test.jsonl"; }
  // {"categories": [...]}: the task categories the run kept out of training (`rlhf pipeline --held_out_categories`);
  // the evaluation reports task success on their test prompts. Absent or empty: none.
  std::string held_out_categories() const { return data_dir() + "/held_out_categories.json"; }
  std::string models_dir() const { return root + "/models"; }
  // size "" is the single-size layout (models/KEY); otherwise models/SIZE/KEY.
  std::string model_dir(const std::string& key, const std::string& size = "") const {
    return size.empty() ? models_dir() + "/" + key : models_dir() + "/" + size + "/" + key;
  }
  std::string reward_model_dir(const std::string& size = "") const { return model_dir("rm", size); }
  // `rlhf pipeline --eval_seeds N`: KEY (ppo, ppo_ptx) trained again with seed number N >= 2 (models/KEY_seedN).
  std::string seed_model_dir(const std::string& key, int64_t seed_number, const std::string& size = "") const {
    return model_dir(key + "_seed" + std::to_string(seed_number), size);
  }
  std::string stage_metrics(const std::string& key, const std::string& size = "") const {
    return model_dir(key, size) + "/metrics.jsonl";
  }
  std::string compute() const { return root + "/compute.json"; }
  std::string rm_cv() const { return root + "/rm_cv.json"; }
  // The pipeline's record of a stage (RUN/stages/NAME.json, NAME@SIZE.json for a size of the `paper` preset): the
  // evaluation reads the rankings' inter-labeler agreement from stages/rankings.json.
  std::string stage_record(const std::string& stage, const std::string& size = "") const {
    return root + "/stages/" + (size.empty() ? stage : stage + "@" + size) + ".json";
  }
  std::string report_dir() const { return root + "/report"; }
  std::string summary() const { return report_dir() + "/summary.json"; }
  std::string report_html() const { return report_dir() + "/report.html"; }
};

}  // namespace rlhf::eval
