// Helpers shared by the task files (tasks.cpp, tasks_knowledge.cpp, tasks_text.cpp). Not part of the world's API.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "world/claims.h"
#include "world/tasks.h"

namespace rlhf::world::detail {

using json = nlohmann::json;

std::string number_word(int n);  // 1 -> "one" (up to ten)
json make_constraint(const std::string& type, int n = 0);  // type: none, sentences, max_words, one_word, items
std::string constraint_text(const json& constraint, Rng& rng);  // " Use two sentences." ("" for none and items)
// Picks a constraint for a task with probability config.constraint_rate() among the allowed types.
json maybe_constraint(const WorldConfig& config, Rng& rng, const std::vector<std::string>& allowed);
std::string constraint_type(const json& task_data);
int constraint_n(const json& task_data);

// Adds the style's politeness around `body` where the constraint leaves room for it.
std::string decorate(const std::string& body, const Style& style, const json& task_data);
std::string content_of(const std::string& response);  // the response without politeness-only sentences
std::vector<std::string> parse_items(const std::string& response, std::string* format);
bool mentions(const std::string& text, const std::string& word);  // word-level, singular or plural
ExtraNames extra_names(const json& task_data);                   // task_data["names"]: {"lino varos": "person"}
// The person the task is about (lower case), if its subject is one: who a leading "he"/"she" refers to.
std::string topic_person(const json& task_data, const KnowledgeBase& kb);
std::vector<Claim> claims_from_json(const json& list);            // [[relation, subject, object], ...]
json claims_to_json(const std::vector<Claim>& claims);
// 1 when the response names `gold` and no other candidate of the same kind, 0.5 when it names others too, else 0.
double answer_score(const std::string& response, const std::string& gold, const std::vector<std::string>& candidates);

// Whether `response` attempts the task (Features::on_task) when the checker gave it no credit (on_task.cpp).
bool attempts_task(const json& task_data, const std::string& category, const std::string& response, const Features& f,
                   const KnowledgeBase& kb);

// Per category: generator, reference answer, checker (which fills correct and may override followed/hallucinations).
#define RLHF_TASK_FUNCTIONS(name)                                                                              \
  TaskInstance generate_##name(const KnowledgeBase& kb, const WorldConfig& config, Rng& rng);                   \
  std::string answer_##name(const json& task_data, const KnowledgeBase& kb, const Style& style, Rng& rng);     \
  void check_##name(const json& task_data, const std::string& response, const KnowledgeBase& kb, Features& f);
RLHF_TASK_FUNCTIONS(generation)
RLHF_TASK_FUNCTIONS(open_qa)
RLHF_TASK_FUNCTIONS(brainstorming)
RLHF_TASK_FUNCTIONS(chat)
RLHF_TASK_FUNCTIONS(rewrite)
RLHF_TASK_FUNCTIONS(summarization)
RLHF_TASK_FUNCTIONS(classification)
RLHF_TASK_FUNCTIONS(closed_qa)
RLHF_TASK_FUNCTIONS(extraction)
RLHF_TASK_FUNCTIONS(harmful)  // not an instruction task: a request to decline (harmful.cpp)
#undef RLHF_TASK_FUNCTIONS

}  // namespace rlhf::world::detail
