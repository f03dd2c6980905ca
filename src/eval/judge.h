// What the evaluation needs from whoever judges responses: labelers who compare and rate, a checker that reads
// features off a response, and benchmarks with their scorers. The evaluation is written against this interface only;
// the embedded world implements it in pipeline/world_judge.h (STYLE.md: eval/ never includes world/).
//
// Benchmark items are JSON objects; the evaluation reads these fields (anything else is the judge's own business):
//   public_nlp     "prompt", "metric" ("exact" | "choice"), "choices" (choice items), "task"
//   truthfulqa     "prompt", "prompt_instruction_qa", "kind", "answerable" (false: no true answer exists, e.g. a question
//                  about a fictional entity; absent: answerable)
//   hallucination  a prompt record: "prompt", "task" (and whatever check() needs, e.g. "task_data")
//   realtoxicity   "prompt", "kind"
//   winogender     "prefix", "choices" (pronouns, e.g. he/she/they), "occupation"
//   crows_pairs    "stereotype", "anti_stereotype"
//   harmful        a prompt record of a harmful request (check() says harmful): "prompt", "id"
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::eval {

// Which labelers judge: those whose rankings trained the reward model, or the group kept out of all training data.
enum class LabelerSet { kTraining, kHeldOut };

// The paper's per-output labels (InstructGPT, Table 3 / Figure 4): a 1-7 Likert score and metadata flags.
struct JudgeRating {
  int likert = 4;
  bool fails_to_follow = false;  // "fails to follow the correct instruction / task"
  bool hallucination = false;    // "makes up information not in the input" (closed domain)
  bool inappropriate = false;    // "inappropriate for a customer assistant"
  bool toxic = false;
};

// What a task checker reads off one response.
struct JudgeFeatures {
  double correct = 0;       // 0..1
  bool followed = true;     // kept the instruction's explicit constraint (true when there is none)
  int hallucinations = 0;   // claims not supported by the input or the facts
  double toxicity = 0;      // 0..1
  int words = 0;
  bool idk = false;         // says it does not know
  bool success = false;     // task success: fully correct and every constraint kept
  bool polite = false;      // holds a politeness phrase ("Sure!", "I hope this helps.")
  bool list_formatted = false;  // a numbered or comma list
  bool copies_prompt = false;   // echoes the instruction or the passage instead of doing the task
  bool answerable = true;       // the prompt has an answer (false: the text lacks the fact, the entity is fictional)
  bool on_task = true;          // an attempt at what was asked, right or wrong (false: a story for a sum, an echo)
  // A harmful request, one the labelers are told to decline (not an instruction task: task success leaves it out),
  // of the judge's kind (the world's: insult, pii, false_claim); whether the response does what it asks, and whether
  // it says it will not. A response that does both complies.
  bool harmful = false;
  std::string harmful_kind;
  bool complies = false;
  bool refuses = false;
};

// "complies", "refuses" or "other" for a harmful request's response; "" for any other prompt.
inline std::string harmful_verdict(const JudgeFeatures& f) {
  if (!f.harmful) return "";
  return f.complies ? "complies" : f.refuses ? "refuses" : "other";
}

inline nlohmann::json to_json(const JudgeFeatures& f) {
  return {{"correct", f.correct}, {"success", f.success}, {"followed", f.followed}, {"hallucinations", f.hallucinations},
          {"toxicity", f.toxicity}, {"words", f.words}, {"idk", f.idk}, {"polite", f.polite},
          {"list_formatted", f.list_formatted}, {"copies_prompt", f.copies_prompt}, {"answerable", f.answerable},
          {"on_task", f.on_task}, {"harmful", f.harmful}, {"complies", f.complies}, {"refuses", f.refuses}};
}

struct TruthJudgement {
  bool truthful = false;
  bool informative = false;
  bool idk = false;  // says it does not know
};

class Judge {
 public:
  virtual ~Judge() = default;

  virtual std::string description() const = 0;  // for the report ("world demo, seed 1")
  virtual bool has_held_out_labelers() const = 0;

  // A labeler of `set` (chosen deterministically for the record) compares two responses to the record's prompt:
  // 1 = `response` preferred, 0 = `baseline` preferred, 0.5 = a tie.
  virtual double compare(const nlohmann::json& record, const std::string& response, const std::string& baseline,
                         LabelerSet set) const = 0;
  virtual JudgeRating rate(const nlohmann::json& record, const std::string& response, LabelerSet set) const = 0;
  virtual JudgeFeatures check(const nlohmann::json& record, const std::string& response) const = 0;
  // Mean pairwise agreement of two different labelers ranking the same responses (the ceiling of RM accuracy).
  // responses[i] are the responses to records[i] (at least two each).
  virtual double agreement(const std::vector<nlohmann::json>& records,
                           const std::vector<std::vector<std::string>>& responses) const = 0;

  // Items of a suite (names above); empty when the judge has none.
  virtual std::vector<nlohmann::json> benchmark_items(const std::string& suite) const = 0;
  // public_nlp: a generated answer (exact match) / the log-likelihoods of the choices, in "choices" order.
  virtual bool score_exact(const nlohmann::json& item, const std::string& response) const = 0;
  virtual bool score_choice(const nlohmann::json& item, const std::vector<double>& choice_logprobs) const = 0;
  virtual TruthJudgement judge_truthfulness(const nlohmann::json& item, const std::string& response) const = 0;
  // The toxicity classifier (the Perspective API's place), in [0, 1].
  virtual double toxicity(const std::string& text) const = 0;
  // The instruction of the paper's "respectful" condition (toxicity and bias), a prefix ending in a newline.
  virtual std::string respectful_instruction() const = 0;
  // A failing twin of a successful response: one name the response took from the prompt swapped for another name of
  // the same kind, such that the checker calls the copy a failure; "" when there is none (or the judge cannot tell).
  // Whether a reward model prefers the original is whether it verifies what the task asks (eval/task_success.h).
  virtual std::string name_swapped(const nlohmann::json& record, const std::string& response) const {
    (void)record, (void)response;
    return "";
  }
};

}  // namespace rlhf::eval
