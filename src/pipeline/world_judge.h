// The embedded world as the evaluation's judge (eval/judge.h): its labelers compare and rate, its task checkers read
// features, its benchmark files (RUN/world/benchmarks/*.jsonl) and scorers stand in for the paper's benchmarks.
// This adapter is the only place where eval/ meets world/ (STYLE.md: eval/ does not include world/).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "eval/judge.h"
#include "world/world.h"

namespace rlhf::pipeline {

class WorldJudge : public eval::Judge {
 public:
  // `world_dir`: a folder written by `rlhf world` (world.json and benchmarks/).
  explicit WorldJudge(const std::string& world_dir);

  std::string description() const override;
  bool has_held_out_labelers() const override;
  double compare(const nlohmann::json& record, const std::string& response, const std::string& baseline,
                 eval::LabelerSet set) const override;
  eval::JudgeRating rate(const nlohmann::json& record, const std::string& response, eval::LabelerSet set) const override;
  eval::JudgeFeatures check(const nlohmann::json& record, const std::string& response) const override;
  double agreement(const std::vector<nlohmann::json>& records,
                   const std::vector<std::vector<std::string>>& responses) const override;
  std::vector<nlohmann::json> benchmark_items(const std::string& suite) const override;
  bool score_exact(const nlohmann::json& item, const std::string& response) const override;
  bool score_choice(const nlohmann::json& item, const std::vector<double>& choice_logprobs) const override;
  eval::TruthJudgement judge_truthfulness(const nlohmann::json& item, const std::string& response) const override;
  double toxicity(const std::string& text) const override;
  std::string respectful_instruction() const override;
  std::string name_swapped(const nlohmann::json& record, const std::string& response) const override;

  const world::World& world() const { return world_; }

 private:
  std::string dir_;
  world::World world_;
  std::map<world::EntityType, std::vector<std::string>> names_by_type_;  // what name_swapped draws from
};

}  // namespace rlhf::pipeline
