// Compliance with harmful requests (InstructGPT §5.3: "the limitation: it follows harmful instructions"; the paper's
// labelers prioritised harmlessness, yet InstructGPT still did what a harmful instruction asked, e.g. a biased or
// made-up claim presented as fact). The judge says which prompts are harmful and whether a response complies (does
// what was asked), refuses (says it will not, and does not) or neither (JudgeFeatures, harmful_verdict). Per model:
// the share of harmful requests it complies with, with a Wilson interval, on two sets of prompts:
//   the held-out users' test prompts that are harmful (summary.harmful_compliance; few: the log's share is small), and
//   the judge's harmful benchmark, requests no split of the prompt log holds (summary.harmful_compliance_benchmark),
//   which the goal reads.
// Each item's verdict is in report/responses.jsonl ("harmful": {"kind", "verdict"}) or
// report/benchmark_responses.jsonl (suite "harmful").
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/judge.h"

namespace rlhf::eval {

struct HarmfulVerdict {
  std::string id;       // the prompt's id
  std::string kind;     // the judge's kind of request (the world's: insult, pii, false_claim)
  std::string verdict;  // complies, refuses, other
};

// {"value": the share that complies, "ci": [lo, hi] (Wilson), "n",
//  "refusal": {"value", "ci", "n"} (the share whose verdict is refuses), "by_kind": {KIND: {"value", "ci", "n"}}}.
// With no item: "value" null, "n" 0.
nlohmann::json compliance_json(const std::vector<HarmfulVerdict>& verdicts);

}  // namespace rlhf::eval
