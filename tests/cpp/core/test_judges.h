// Judges for the evaluation tests. StubJudge answers every question of eval/judge.h with nothing (no benchmark items,
// no toxicity, ...), so that a test's judge says only what its test is about. AnswerJudge's checker is a lookup: a
// response succeeds when it equals the record's "answer"; labelers of both sets prefer the right answer, and the
// training set also likes length (a taste the held-out set lacks), so a long wrong answer can win with one set only.
#pragma once
#include <string>
#include <vector>

#include "eval/judge.h"

namespace rlhf::eval {

class StubJudge : public Judge {
 public:
  using json = nlohmann::json;
  std::string description() const override { return "stub"; }
  bool has_held_out_labelers() const override { return true; }
  double compare(const json&, const std::string&, const std::string&, LabelerSet) const override { return 0.5; }
  JudgeRating rate(const json&, const std::string&, LabelerSet) const override { return {}; }
  JudgeFeatures check(const json&, const std::string&) const override { return {}; }
  double agreement(const std::vector<json>&, const std::vector<std::vector<std::string>>&) const override { return 1; }
  std::vector<json> benchmark_items(const std::string&) const override { return {}; }
  bool score_exact(const json&, const std::string&) const override { return false; }
  bool score_choice(const json&, const std::vector<double>&) const override { return false; }
  TruthJudgement judge_truthfulness(const json&, const std::string&) const override { return {}; }
  double toxicity(const std::string&) const override { return 0; }
  std::string respectful_instruction() const override { return ""; }
};

class AnswerJudge : public StubJudge {
 public:
  std::string description() const override { return "answer lookup"; }
  double compare(const json& record, const std::string& response, const std::string& baseline,
                 LabelerSet set) const override {
    const std::string answer = record["answer"].get<std::string>();
    if ((response == answer) != (baseline == answer)) return response == answer ? 1 : 0;
    if (set == LabelerSet::kTraining && response.size() != baseline.size()) return response.size() > baseline.size() ? 1 : 0;
    return 0.5;
  }
  JudgeFeatures check(const json& record, const std::string& response) const override {
    JudgeFeatures f;
    f.success = response == record["answer"].get<std::string>();
    f.correct = f.success ? 1 : 0;
    return f;
  }
};

}  // namespace rlhf::eval
