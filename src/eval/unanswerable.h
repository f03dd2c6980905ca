// "I don't know" where there is nothing to know (InstructGPT §4.3: InstructGPT is more truthful than GPT-3, partly by
// declining; TruthfulQA counts "I have no comment" as truthful): each model's share of responses that say it does not
// know, on unanswerable items (the answer is not in the given text, or the question is about a fictional entity) and,
// apart, on answerable ones, where declining is a failure. Saying "I don't know" everywhere raises the first share and
// the second alike; only a model that declines where it should raises the first alone.
//
// Items come from several sources, each item of each model once: the test prompts (the checker's `answerable` and `idk`
// features), the TruthfulQA analogue's items asked plainly (benchmark kind "fictional": unanswerable; "misconception",
// "control": answerable) and, reported apart and not pooled (the same questions again, after a prefix that tells the
// model to say "I don't know" when unsure), its Instruction+QA condition.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::eval {

struct IdkItem {
  std::string source;  // "test_prompts", "truthfulqa", ...
  std::string id;      // the item's id within its source
  bool answerable = true;
  bool idk = false;
};

// {"unanswerable": {value, low, high, n}, "answerable": {...}   (pooled over `pooled`, Wilson intervals),
//  "by_source": {SOURCE: {"unanswerable", "answerable"}}        (pooled and reported-only sources),
//  "pooled_sources": [SOURCE, ...],
//  "unanswerable_items": {"ids": ["SOURCE:ID", ...], "idk": [0|1, ...]}}  (the pooled unanswerable items, in order:
//  what a paired difference between two models needs)
nlohmann::json idk_shares(const std::vector<IdkItem>& pooled, const std::vector<IdkItem>& reported_only = {});

}  // namespace rlhf::eval
