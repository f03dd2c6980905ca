// The simulated labelers: 40 people in 5 groups. A labeler scores a response from the checker's features:
//   score = helpful (correct, follows the instruction) + harmless (no toxic words, no compliance with a harmful
//           request) + honest (no hallucination)
//         + group taste (preferred length, politeness phrases, list format) + personal deviation of every weight.
// Labelers are instructed to decline harmful requests (world/harmful.h): there a refusal is the correct answer, a
// complying response loses the compliance weight, and their demonstrations are polite refusals in their own style.
// From scores they rank K = 4..9 outputs (a Plackett-Luce sample, so rankings are as noisy as people are), give 1-7
// Likert ratings with the paper's metadata flags, and write demonstrations (a correct answer in their own style).
// Every judgement is seeded by (labeler, prompt, responses): the same question gets the same answer, in any order.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "world/config.h"
#include "world/knowledge.h"
#include "world/tasks.h"

namespace rlhf::world {

struct Taste {
  double preferred_words = 10;  // length this labeler likes best
  double verbosity = 0.3;       // penalty per unit of |log(length ratio)|
  double politeness = 0;        // bonus (or penalty) for politeness phrases
  std::string list_format = "numbered";
  double format = 0.2;          // bonus for the preferred list format, penalty for the other
};

struct CoreWeights {
  double correct = 2.0, followed = 1.0;    // helpful
  // An attempt at the task, right or wrong, over one that does something else: more than a hallucination costs, so a
  // wrong answer ranks above an off-task story (which states nothing checkable), for every labeler despite the personal
  // noise on both weights (at 2.0, 4 of 40 still preferred the story).
  double on_task = 3.0;
  double toxicity = 2.5;                   // harmless
  double compliance = 3.0;                 // harmless: doing what a harmful request asks (world/harmful.h)
  double hallucination = 1.5;              // honest (per hallucinated claim, at most two counted)
  double repetition = 2.0, empty = 2.0;    // plainly broken text
};

struct Rating {
  int likert = 4;  // 1..7
  bool fails_to_follow = false, hallucination = false, inappropriate = false, toxic = false;
  nlohmann::json to_json() const;
};

class Labeler {
 public:
  std::string id;       // "labeler_07"
  int group = 0;
  std::string group_name;
  uint64_t seed = 0;
  Style style;          // how this labeler writes
  Taste taste;          // what this labeler likes beyond the shared core
  CoreWeights core;
  double temperature = 0.5;
  double flag_noise = 0.04;
  double error_rate = 0;

  double score(const Features& features) const;  // deterministic utility of a judged response
  // A prompt record needs "task_data" (and "prompt" or "id" to seed the judgement).
  std::string write_demonstration(const nlohmann::json& record, const KnowledgeBase& kb) const;
  // Indices into `responses`, best first (a Plackett-Luce sample of the scores at this labeler's temperature).
  std::vector<int> rank(const nlohmann::json& record, const std::vector<std::string>& responses,
                        const KnowledgeBase& kb) const;
  Rating rate(const nlohmann::json& record, const std::string& response, const KnowledgeBase& kb) const;
};

class LabelerPool {
 public:
  LabelerPool(std::shared_ptr<const KnowledgeBase> kb, const WorldConfig& resolved);

  const std::vector<Labeler>& labelers() const { return labelers_; }
  std::vector<const Labeler*> group(int index) const;
  int groups() const { return groups_; }
  int held_out_group() const { return held_out_group_; }
  const KnowledgeBase& knowledge() const { return *kb_; }

  // The labeler who handles this prompt: a deterministic pick among the training labelers (every group but the
  // held-out one), or among the held-out group.
  const Labeler& assign(const nlohmann::json& record, bool held_out = false) const;
  std::string write_demonstration(const nlohmann::json& record) const { return assign(record).write_demonstration(record, *kb_); }
  std::vector<int> rank(const nlohmann::json& record, const std::vector<std::string>& responses) const {
    return assign(record).rank(record, responses, *kb_);
  }
  Rating rate(const nlohmann::json& record, const std::string& response) const { return assign(record).rate(record, response, *kb_); }
  Features check(const nlohmann::json& record, const std::string& response) const;

  // Mean pairwise agreement between two different labelers ranking the same responses (each item is ranked by a
  // deterministic pair of training labelers). The ceiling for a reward model's accuracy.
  double inter_labeler_agreement(const std::vector<nlohmann::json>& records,
                                 const std::vector<std::vector<std::string>>& responses) const;

 private:
  std::shared_ptr<const KnowledgeBase> kb_;
  std::vector<Labeler> labelers_;
  int groups_ = 5, held_out_group_ = -1;
};

class Rng;
// A Plackett-Luce sample: indices best first, drawn with P(next = i) proportional to exp(utility_i / temperature) among
// those not yet placed (by the Gumbel-max trick, which samples exactly this distribution).
std::vector<int> plackett_luce_sample(const std::vector<double>& utilities, double temperature, Rng& rng);

// Share of response pairs that two rankings (indices best first, over the same responses) put in the same order.
double pairwise_agreement(const std::vector<int>& ranking_a, const std::vector<int>& ranking_b);

}  // namespace rlhf::world
