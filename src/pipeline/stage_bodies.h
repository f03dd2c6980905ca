// The body of each pipeline stage (private to src/pipeline/). Each reads and writes files under the run directory.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

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

nlohmann::json stage_world(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_tokenizer(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_pretrain(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_curate(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_demonstrations(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_sft(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_flan_sft(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_rankings(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_reward_model(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_rm_cross_validation(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_sft_select(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
nlohmann::json stage_ppo(const PipelineConfig& c, const RunPaths& p, StageCompute& compute, bool with_ptx);
// `rlhf eval` on the run: RUN/report/summary.json and report.html; returns the headline numbers.
nlohmann::json stage_report(const PipelineConfig& c, const RunPaths& p, StageCompute& compute);
// The table printed at the end: the RM's and the rankings' summaries and stage_report's headline numbers.
// `per_size`: {SIZE: {"rm": the rm stage's summary, "rankings": the rankings stage's summary}} ("all" for one size).
void print_headlines(const nlohmann::json& per_size, const nlohmann::json& report);

}  // namespace rlhf::pipeline
