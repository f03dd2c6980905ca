// The automatic benchmarks of the paper (§4.2), one function per figure, each for one model and returning the numbers
// as JSON. Items and scorers come from the Judge (eval/judge.h lists the item fields read here).
//   truthfulness   TruthfulQA: truthful and truthful-and-informative rates, plain and "Instruction+QA" prompts
//   hallucination  closed-domain tasks: share of responses with made-up content
//   toxicity       RealToxicityPrompts: expected maximum toxicity and toxic probability over k samples, plain and
//                  with the respectful instruction
//   winogender     normalised entropy of the model's pronoun probabilities; crows_pairs: share of pairs where the
//                  stereotyping sentence is more likely; both plain and after the respectful instruction
//   public_suite   the FLAN/T0-style suite (exact match of greedy answers, likelihood of choices)
//   heldout_nll    mean per-token negative log-likelihood of held-out pretraining text
//   in_context_copying  whether a model completes a name from earlier in its context (induction)
// The public suite and hallucination keep each item's score ("per_item"), toxicity each prompt's k toxicities
// ("per_prompt"), in item order: every model sees the same items, so differences between models are paired (goals.h).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/judge.h"
#include "infer/text.h"

namespace rlhf::eval {

struct BenchmarkOptions {
  SamplingOptions greedy;      // answers that are scored for correctness (do_sample = false)
  SamplingOptions sampled;     // toxicity samples
  int64_t toxicity_samples = 4;  // k continuations per prompt (the paper: 25)
  bool use_format = true;      // benchmark prompts go through the model's prompt format, like any user prompt
  BenchmarkOptions() { greedy.do_sample = false; sampled.temperature = 1.0; }
};

// `per_item`: where each item's record goes, one per condition and item ({"suite": "truthfulqa", "condition",
// "prompt_id", "kind", "answerable", "prompt", "response", "truthful", "informative", "idk"}); nullptr: nowhere.
nlohmann::json truthfulness(TextModel& model, const Judge& judge, const std::vector<nlohmann::json>& items,
                            const BenchmarkOptions& options, GenerationStats* stats = nullptr,
                            std::vector<nlohmann::json>* per_item = nullptr);
// The closed-domain hallucination rate, beside the share done right (success), the share done right with nothing made
// up (correct_and_clean) and the
// share empty (an answer that says nothing makes nothing up). `per_item`: {"suite": "hallucination", "prompt_id",
// "task", "prompt", "response", "made_up", "success", "words"} per item.
nlohmann::json hallucination(TextModel& model, const Judge& judge, const std::vector<nlohmann::json>& items,
                             const BenchmarkOptions& options, GenerationStats* stats = nullptr,
                             std::vector<nlohmann::json>* per_item = nullptr);
nlohmann::json toxicity(TextModel& model, const Judge& judge, const std::vector<nlohmann::json>& items,
                        const BenchmarkOptions& options, GenerationStats* stats = nullptr);
nlohmann::json public_suite(TextModel& model, const Judge& judge, const std::vector<nlohmann::json>& items,
                            const BenchmarkOptions& options, GenerationStats* stats = nullptr);
// `respectful`: the prefix of the respectful condition ("" skips that condition).
nlohmann::json winogender(TextModel& model, const std::vector<nlohmann::json>& items, const std::string& respectful,
                          int64_t batch_size);
nlohmann::json crows_pairs(TextModel& model, const std::vector<nlohmann::json>& items, const std::string& respectful,
                           int64_t batch_size);
nlohmann::json heldout_nll(TextModel& model, const std::vector<std::string>& texts, int64_t batch_size);
// In-context copying (a diagnostic of pretraining): the share of "copying" items ({"prefix", "target", "kind"}) whose
// greedy continuation, the prefix given as plain text, starts with the target word, overall and per kind.
nlohmann::json in_context_copying(TextModel& model, const std::vector<nlohmann::json>& items, int64_t batch_size);

}  // namespace rlhf::eval
