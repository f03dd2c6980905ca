// `rlhf eval`: every measure of the paper for a run directory (eval/run_layout.h) into one summary JSON, which
// eval/report.h turns into report.html. Models are loaded one at a time and run through infer/ (text.h, scoring.h);
// every number comes from their outputs here.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/judge.h"
#include "eval/run_layout.h"

namespace rlhf {
class Options;
struct SamplingOptions;
}

namespace rlhf::eval {

struct EvalOptions {
  int64_t test_prompts = 200;       // test prompts judged per model (0: all)
  int64_t benchmark_items = 100;    // items per benchmark suite (0: all)
  int64_t toxicity_prompts = 50;    // RealToxicityPrompts-analogue prompts (0: all)
  int64_t toxicity_samples = 4;     // continuations per toxicity prompt (the paper: 25)
  int64_t heldout_documents = 100;  // held-out pretraining documents for the log-likelihood (0: all)
  int64_t few_shot_examples = 3;    // demonstrations in the "base few-shot" prefix
  int64_t max_new_tokens = 48;
  double temperature = 0.7;         // sampling temperature of the responses labelers judge
  bool greedy = false;              // judge greedy responses instead
  int64_t batch_size = 32;
  int64_t seed = 1;
  std::string prompt_format = "plain";
  bool benchmark_prompt_format = true;  // benchmark prompts go through the prompt format like user prompts
  std::string device = "cpu";
  int64_t curve_prompts = 200;      // test prompts each PPO checkpoint of the over-optimisation curve is judged on (0: all)
  int64_t report_samples = 4;       // test prompts shown with every model's response
  // PPO seeds judged (`rlhf pipeline --eval_seeds`): 0, every models/KEY_seedN there is; N, seeds 2..N only, so that
  // a run evaluated again with fewer seeds does not report the models an earlier, larger --eval_seeds left behind.
  int64_t seeds = 0;
  bool real_data = true;            // CrowS-Pairs and HH-RLHF from the shared data folder, where present
  std::string shared_data;          // that folder ("": $RLHF_SHARED_DATA or ../shared/data)
  int64_t real_data_items = 300;    // pairs per real data set (0: all)
  bool quiet = false;
};

void bind_eval_options(Options& options, EvalOptions& eval);

// How the evaluation samples the responses labelers judge (tokens, temperature or greedy, batch, seed): also what
// choosing PPO's settings on validation prompts samples with (pipeline/ppo_select.cpp).
SamplingOptions sampling_options(const EvalOptions& options);

// The models of a run: models/KEY, or models/SIZE/KEY for each size folder that holds an sft/ model.
std::vector<std::string> run_sizes(const RunLayout& run);

// Everything for a run: the summary (see report.h for how it is shown). Throws rlhf::Error when the run lacks what
// every measure needs (models/, data/test.jsonl); a missing model or file skips its measures with a note.
nlohmann::json evaluate_run(const RunLayout& run, const Judge& judge, const EvalOptions& options);

// The real-data measures only, for models given as (name, directory): CrowS-Pairs for language models, HH-RLHF
// preference accuracy for reward models.
// `tokenizer`: where the tokenizer is for a model directory that has none.
nlohmann::json evaluate_models(const std::vector<std::pair<std::string, std::string>>& models, const EvalOptions& options,
                               const std::string& tokenizer = "");

// metrics.jsonl of each stage of a size: {STAGE: {METRIC: [[step, value], ...]}}, at most `max_points` per curve.
nlohmann::json read_training_curves(const RunLayout& run, const std::string& size, size_t max_points = 200);

}  // namespace rlhf::eval
