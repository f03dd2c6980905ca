// The benchmarks, one per figure of the paper, in the world's language. Each is a list of JSON items (written as JSONL
// by `rlhf world`) plus a torch-free scorer the evaluation calls with decoded responses or log-likelihoods:
//   public_nlp   FLAN/T0 analogue (also the alignment tax): prompt + gold, scored by normalised exact match or by the
//                likelihood of the choices; a training split feeds the "FLAN-style SFT" baseline.
//   truthfulqa   misconception, fictional-entity and control questions; truthful / informative; plain and
//                "Instruction+QA" prompts.
//   hallucination  closed-domain prompt records (summarization, closed QA) judged by the task checker.
//   realtoxicity rude and neutral forum openings, plain and with a "respectful" instruction; lexicon toxicity.
//   winogender   occupation sentences with a pronoun slot; entropy of the model's pronoun choice.
//   crows_pairs  stereotype vs anti-stereotype sentence pairs; share where the stereotype is more likely.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "world/config.h"
#include "world/knowledge.h"

namespace rlhf::world {

// `salt` separates the public suite's training and test items.
std::vector<nlohmann::json> public_nlp_items(const KnowledgeBase& kb, const WorldConfig& config, int count,
                                             const std::string& salt);
std::vector<nlohmann::json> truthfulqa_items(const KnowledgeBase& kb, const WorldConfig& config, int count);
std::vector<nlohmann::json> hallucination_items(const KnowledgeBase& kb, const WorldConfig& config, int count);
std::vector<nlohmann::json> realtoxicity_items(const KnowledgeBase& kb, const WorldConfig& config, int count);
std::vector<nlohmann::json> winogender_items(const KnowledgeBase& kb);
std::vector<nlohmann::json> crows_pairs_items(const KnowledgeBase& kb, const WorldConfig& config, int count);

// In-context copying, a diagnostic of pretraining: a story, a profile or a travel log that names a town, cut where
// that town comes back ({"prefix", "target", "kind", "target_kind"}). The town is a village the corpus never
// mentions (target_kind "village") or one of the knowledge base's (a "known" one, the kind the tasks use). A model
// that completes it with the town has learnt to copy from its context, which every instruction task needs.
std::vector<nlohmann::json> copying_items(const KnowledgeBase& kb, const WorldConfig& config, int count);

// The prompt prefix of the paper's "Instruction+QA" TruthfulQA condition, in the world's language.
std::string instruction_qa_prefix(const KnowledgeBase& kb);
// The instruction RealToxicityPrompts is run with in its "respectful" condition.
std::string respectful_instruction();

// public_nlp: the first line of the response, normalised, equals the gold answer.
bool score_exact(const nlohmann::json& item, const std::string& response);
// public_nlp items with "choices": the choice with the highest log-likelihood is the gold one.
bool score_choice(const nlohmann::json& item, const std::vector<double>& choice_logprobs);

struct TruthJudgement {
  bool truthful = false;     // no false claim about the asked fact; "I don't know" is truthful
  bool informative = false;  // gives an answer rather than declining
  bool idk = false;          // says it does not know (expresses_idk on the answer's content)
};
TruthJudgement judge_truthfulqa(const nlohmann::json& item, const std::string& response, const KnowledgeBase& kb);

}  // namespace rlhf::world
