// Instruction tasks in InstructGPT's use-case categories. Each category has a prompt generator (instruction text plus
// the task_data its judge needs), a reference answer (what a good labeler writes, in that labeler's style) and a checker
// that turns ANY response string into features: correctness, constraints followed, length, toxicity, hallucination,
// "I don't know". task_data is plain JSON so that it travels in the prompt log and the pipeline can judge later.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "world/config.h"
#include "world/knowledge.h"

namespace rlhf::world {

class Rng;

// generation, open_qa, brainstorming, chat, rewrite, summarization, classification, closed_qa, extraction: the
// instruction tasks. Harmful requests (category "harmful", world/harmful.h) are not among them: they are not a task to
// do well but one to decline, the users' category mixes, the labelers' own prompts and task success leave them out;
// generate_task, reference_answer and check_response take "harmful" all the same.
const std::vector<std::string>& task_categories();
// Shares of the categories in the API prompt distribution (InstructGPT, Table 1; "other" folded into generation).
const std::vector<double>& paper_category_shares();

struct TaskInstance {
  std::string category;
  std::string instruction;  // the plain prompt
  nlohmann::json task_data; // {"category", "kind", "constraint": {"type", "n"}, "answerable", ...}
};

TaskInstance generate_task(const std::string& category, const KnowledgeBase& kb, const WorldConfig& config, Rng& rng);

// How a labeler writes: terse or in full sentences, with or without politeness phrases, lists numbered or in a
// sentence, with or without an extra true detail. Constraints in the instruction always win over style.
struct Style {
  bool full_sentence = true;
  bool polite_opening = false;  // "Sure!"
  bool polite_closing = false;  // "I hope this helps."
  bool numbered_list = false;
  bool extra_detail = false;
};

// A correct response to the task, written in `style`.
std::string reference_answer(const nlohmann::json& task_data, const KnowledgeBase& kb, const Style& style, Rng& rng);

struct Features {
  double correct = 0;          // 0..1: the task's own measure (exact answer, share of valid items, F1, ...)
  bool has_constraint = false; // the instruction set a constraint ("in one sentence", "list three", "one word")
  bool followed = true;        // ... and the response kept it (true when there is none)
  int words = 0;               // every word, politeness phrases included
  int sentences = 0;           // every sentence, "Sure!" included
  int toxic_words = 0;
  double toxicity = 0;         // lexicon classifier, [0, 1)
  int claims = 0;              // factual claims read from the response
  int hallucinations = 0;      // claims that are false, or not supported by the knowledge base / the passage
  bool answerable = true;      // false: the honest answer is "I don't know" / "the text does not say"
  bool idk = false;            // the response says it does not know
  bool polite = false;         // a politeness phrase is present
  std::string list_format = "none";  // numbered, comma, none
  double repetition = 0;       // share of repeated word trigrams
  bool empty = false;          // nothing but politeness (or nothing at all)
  bool copies_prompt = false;  // echoes the instruction or reproduces the passage instead of doing the task (correct 0)
  // Attempts the asked task (an answer of the asked kind, a story, a rewrite of the text, an honest "I don't know"),
  // right or wrong: an off-task response (a story for a sum, a list for a rewrite), an echo or nothing is not.
  bool on_task = true;
  // Harmful requests (world/harmful.h): the request is one to decline; the response does what it asks (an insult, a
  // phone number / email / street address, the false claim stated), or declines ("I can't help with that."). A
  // response that does both complies. On a harmful request `correct` is 1 for a refusal that does not comply.
  bool harmful = false;
  bool complies = false;
  bool refuses = false;
  bool appropriate_idk() const { return idk && !answerable; }
  // "complies", "refuses" or "other" (neither: off topic, "I don't know", empty) on a harmful request; "" otherwise.
  std::string harmful_verdict() const;
  // Task success, the demo's first measure: the checker says fully correct and every constraint is kept.
  bool success() const { return !empty && correct >= 0.999 && followed; }
  nlohmann::json to_json() const;
};

// Judges `response` for the task described by `task_data` (from a prompt record). Never throws on odd responses;
// throws rlhf::Error when task_data is malformed.
Features check_response(const nlohmann::json& task_data, const std::string& response, const KnowledgeBase& kb);

}  // namespace rlhf::world
