// The embedded default: a deterministic world (seed + preset) that is the pipeline's data source and judge.
// generate() builds it in memory; write() puts the plain files a user would otherwise bring (pretraining text, the raw
// prompt log, benchmarks) plus world.json, from which load() rebuilds the judges (checkers, labelers, scorers).
// The training stages never include this header: they read the files.
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "world/config.h"
#include "world/knowledge.h"
#include "world/labelers.h"
#include "world/tasks.h"

namespace rlhf::world {

class World {
 public:
  static World generate(const WorldConfig& config);  // resolves the preset; throws rlhf::Error on bad knobs
  static World load(const std::string& path);         // DIR (holding world.json) or the world.json itself

  const WorldConfig& config() const { return config_; }
  const KnowledgeBase& knowledge() const { return *kb_; }
  const LabelerPool& labelers() const { return *labelers_; }
  // The checker for a prompt record (needs "task_data").
  Features check(const nlohmann::json& record, const std::string& response) const { return labelers_->check(record, response); }

  // `count` prompts written by the labelers themselves (world/users.h), for the SFT demonstrations; another `salt`
  // draws another set (the reward model's labeler-written prompts).
  std::vector<nlohmann::json> labeler_prompts(int count, const std::string& salt = "labeler_prompts") const;

  // Writes corpus.jsonl, heldout_corpus.jsonl, prompt_log.jsonl, benchmarks/*.jsonl, world.json and README.txt into
  // `dir` (created if missing). Returns a summary: files with their line counts and bytes.
  nlohmann::json write(const std::string& dir) const;
  nlohmann::json to_json() const;  // the content of world.json

 private:
  WorldConfig config_;
  std::shared_ptr<const KnowledgeBase> kb_;
  std::shared_ptr<const LabelerPool> labelers_;
};

}  // namespace rlhf::world
