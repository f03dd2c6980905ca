// The API users and their raw prompt log. Hundreds of users, each with their own mix of task categories and prompt
// types (plain, few-shot, user-based), and a heavy-tailed number of prompts (Zipf: a few users send far more than
// 200). The log carries what a real one does: PII (emails, phone numbers, street addresses, card numbers, IPs),
// Luhn-invalid order numbers that are not PII, exact re-submissions and near-duplicates sharing a long prefix.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "world/config.h"
#include "world/knowledge.h"

namespace rlhf::world {

class Rng;

struct ApiUser {
  std::string id;                    // "user_0042"
  std::vector<double> category_mix;  // aligned with task_categories()
  double few_shot = 0, user_based = 0;
  double pii = 0;                    // chance that one of this user's prompts carries PII
  std::string use_case;              // the sentence user-based prompts end with
  double weight = 0;                 // relative prompt volume
};

std::vector<ApiUser> generate_users(const KnowledgeBase& kb, const WorldConfig& config);

// Prompt records in log order: {"id", "user_id", "prompt", "prompt_type", "task", "task_data", "world_meta"}.
// world_meta says what was injected (pii kind, duplicate_of, near_duplicate_of, decoy_number, harmful kind), so tests
// can check the curation against the truth; the training stages never read it. `harmful_share` of the new prompts
// (re-submissions aside) are harmful requests (world/harmful.h, task "harmful"), from any user.
std::vector<nlohmann::json> generate_prompt_log(const KnowledgeBase& kb, const WorldConfig& config);

// Prompts the labelers write themselves (InstructGPT §3.2: the first models were trained on them; 11,295 of the
// 12,725 SFT prompts): every task category equally often, mostly plain, some few-shot, with ids "l000001".. and
// user_id "labelers". Seeded by the world's seed and `salt`.
std::vector<nlohmann::json> generate_labeler_prompts(const KnowledgeBase& kb, const WorldConfig& config, int count,
                                                     const std::string& salt = "labeler_prompts");

// One prompt for `category` in the given prompt type ("plain", "few-shot", "user-based").
nlohmann::json make_prompt_record(const KnowledgeBase& kb, const WorldConfig& config, const std::string& category,
                                  const std::string& prompt_type, const std::string& use_case, Rng& rng);

// A luhn-valid card-like number and a Luhn-invalid one of the same shape (16 digits, grouped by 4).
std::string card_number(Rng& rng, bool luhn_valid);

}  // namespace rlhf::world
