// The body of each pipeline stage (private to src/pipeline/). Each reads and writes files under the run directory.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"
#include "pipeline/stages.h"

namespace rlhf::pipeline {

// Where everything lives inside RUN (eval/run_layout.h draws the tree).
// `size` is "" for a one-size run (models/KEY) and the size's name in the `paper` preset (models/SIZE/KEY): the world,
// tokenizer, curated prompts and demonstrations are shared by every size, the models and the rankings of their
// samples are per size.
struct RunPaths {
  std::string root;
  std::string size;
  std::string world() const { return root + "/world"; }
  std::string tokenizer() const { return root + "/tokenizer"; }
  std::string data(const std::string& file) const { return root + "/data/" + file; }
  std::string sized_data(const std::string& file) const {
    return root + "/data/" + (size.empty() ? "" : size + "/") + file;
  }
  std::string model(const std::string& name) const {
    return root + "/models/" + (size.empty() ? "" : size + "/") + name;
  }
};

// Iterated RLHF (--rlhf_rounds R): round r > 1 ranks samples of round r−1's PPO policy beside SFT's, trains a new RM
// on the rankings of rounds 1..r and runs PPO on it. The last round's models have the plain names (rm, ppo, ppo_ptx);
// an earlier round's carry _roundN (rm_round1, ppo_round1), as do the stages that make them.
struct Round {
  int64_t number = 1, of = 1;
  bool last() const { return number == of; }
  std::string suffix() const { return last() ? "" : "_round" + std::to_string(number); }
  std::string rm() const { return "rm" + suffix(); }
  std::string ppo() const { return "ppo" + suffix(); }
  // Round r's file holds the rankings of rounds 1..r (what its RM trains on); round 1's is rankings.jsonl.
  std::string rankings_file() const {
    return number == 1 ? "rankings.jsonl" : "rankings_round" + std::to_string(number) + ".jsonl";
  }
  std::string rankings_stage() const {
    return number == 1 ? "rankings" : "rankings_round" + std::to_string(number);
  }
  Round previous() const { return {number - 1, of}; }
};

nlohmann::json stage_world(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_tokenizer(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_pretrain(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_curate(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_demonstrations(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_sft(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_flan_sft(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_rankings(const PipelineConfig& c, const RunPaths& p, StageCompute& compute, const Round& round);
nlohmann::json stage_reward_model(const PipelineConfig& c, const RunPaths& p, StageCompute& compute,
                                  const Round& round);
nlohmann::json stage_rm_cross_validation(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
// Chooses the SFT epoch by the score of round 1's RM.
nlohmann::json stage_sft_select(const PipelineConfig& c, const RunPaths& p, StageCompute& compute, const Round& first);
// seed_number 1 is the run's PPO (models/ppo, models/ppo_ptx, trained with --seed); N > 1 one more of --eval_seeds'
// (models/ppo_seedN, models/ppo_ptx_seedN, trained with seed + N - 1), its spread reported by the evaluation.
// `output_model`: where under models/ the policy goes instead ("": the names above).
nlohmann::json stage_ppo(const PipelineConfig& c, const RunPaths& p, StageCompute& compute, bool with_ptx,
                         const Round& round, int64_t seed_number = 1, const std::string& output_model = "");
// --kl_coef_candidates / --ppo_learning_rate_candidates: PPO-ptx trained with every β and learning rate of the grid
// (models/ppo_select/kl_B_lr_L), sampled on the validation prompts as the evaluation samples and compared with SFT's
// responses by the training labelers; the best win rate's settings are chosen ("chosen_kl_coef",
// "chosen_learning_rate"), and the run's PPO and PPO-ptx train with them.
nlohmann::json stage_ppo_select(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
// Fails (an rlhf::Error naming the option) on a malformed candidate list, before anything runs.
void check_ppo_candidates(const PipelineConfig& c);
// "" for seed 1, "_seedN" otherwise (eval/run_layout.h's seed_model_dir reads the same names).
inline std::string seed_suffix(int64_t seed_number) {
  return seed_number == 1 ? "" : "_seed" + std::to_string(seed_number);
}
// `rlhf eval` on the run: RUN/report/summary.json and report.html; returns the headline numbers.
nlohmann::json stage_report(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
// The table printed at the end: the RM's and the rankings' summaries and stage_report's headline numbers.
// `per_size`: {SIZE: {"rm": the rm stage's summary, "rankings": the rankings stage's summary}} ("all" for one size).
void print_headlines(const nlohmann::json& per_size, const nlohmann::json& report);

}  // namespace rlhf::pipeline
