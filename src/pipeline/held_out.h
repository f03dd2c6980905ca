// Task categories kept out of training (`rlhf pipeline --held_out_categories a,b`): the paper's finding that
// InstructGPT follows instructions of kinds it was never fine-tuned on (its non-English and code examples) becomes a
// measure. Prompts of a held-out category reach no SFT demonstration, no RM ranking, no PPO episode and no SFT-epoch
// choice (validation); the test prompts keep them, and the evaluation reports task success on them
// (eval/task_success.h, the goal generalises_to_held_out_categories). RUN/data/held_out_categories.json says which
// categories a run held out, for `rlhf eval`.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::world {
class World;
}

namespace rlhf::pipeline {

class HeldOutCategories {
 public:
  HeldOutCategories() = default;
  // "a,b" (spaces around names allowed, "" for none); an rlhf::Error names an unknown category and lists the world's
  // categories, and refuses a list that leaves nothing to train on.
  static HeldOutCategories parse(const std::string& list);

  bool empty() const { return categories_.empty(); }
  const std::vector<std::string>& names() const { return categories_; }
  // Whether a prompt record ({"task", "task_data": {"category"}}) is of a held-out category.
  bool holds(const nlohmann::json& record) const;
  // The records of the other categories, in their order.
  std::vector<nlohmann::json> without(std::vector<nlohmann::json> records) const;
  // `count` prompts the labelers write themselves (World::labeler_prompts, categories in turn), none of a held-out
  // category: the labelers write as many prompts as without held-out categories, in the categories that remain.
  std::vector<nlohmann::json> labeler_prompts(const world::World& world, int count, const std::string& salt) const;

 private:
  std::vector<std::string> categories_;
};

}  // namespace rlhf::pipeline
