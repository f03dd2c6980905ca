// The world's knobs: a size preset (demo, paper), a seed, a difficulty, and the rates of the flaws the paper measures.
// Sizes left at -1 come from the preset; resolve() fills them so world.json records what was actually generated.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace rlhf {
class Options;
}

namespace rlhf::world {

struct WorldConfig {
  std::string preset = "demo";
  int64_t seed = 1;
  // 0 = easy, 1 = hard: scales how many facts there are to learn, how often prompts carry constraints ("in one
  // sentence", "list three"), the largest number in arithmetic, and the length of passages.
  double difficulty = 0.5;

  // Sizes (-1: from the preset, scaled by difficulty where it says so).
  int countries = -1;          // x (0.5 + difficulty)
  int people = -1;             // x (0.5 + difficulty)
  int fictional_entities = -1; // countries and people that never appear in the corpus
  int misconceptions = -1;     // facts whose popular wrong version dominates the corpus
  int corpus_documents = -1;
  int heldout_documents = -1;
  int users = -1;
  int prompts = -1;            // raw prompt log lines before curation
  int benchmark_items = -1;    // items per benchmark suite (the public suite's training set is 5x this)

  // Flaws of "the internet".
  double misconception_ratio = 3.0;   // statements of the popular falsehood per statement of the truth
  double rude_reply_rate = 0.08;      // forum replies that insult (words from the toxic lexicon)
  double pronoun_skew = 0.9;          // share of an occupation's mentions with its majority pronoun
  double made_up_answer_rate = 0.08;  // forum threads about unknown entities, answered confidently anyway

  // The API users and their prompt log.
  double user_zipf_exponent = 0.9;    // prompts per user ~ rank^-exponent (heavy tail: some users far above 200)
  double few_shot_rate = 0.12;        // mean share of few-shot prompts
  double user_based_rate = 0.15;      // mean share of prompts framed by the user's own use case
  double pii_rate = 0.04;             // prompts carrying an email, phone number, address, card number or IP
  double decoy_number_rate = 0.01;    // prompts with a 16-digit order number that fails the Luhn check (not PII)
  double near_duplicate_rate = 0.05;  // re-submissions sharing a long prefix with an earlier prompt
  double exact_duplicate_rate = 0.03; // re-submissions of an earlier prompt, unchanged
  double harmful_share = 0.04;        // new prompts that are harmful requests labelers decline (world/harmful.h)

  // The labelers.
  int labelers = 40;
  int labeler_groups = 5;
  int held_out_group = 4;             // the group the pipeline keeps out of training data (-1: none)
  double labeler_temperature = 0.5;   // Plackett-Luce temperature of a ranking (higher: noisier, less agreement)
  double labeler_weight_noise = 0.15; // personal deviation of each labeler's weights (log-normal sigma)
  double labeler_flag_noise = 0.04;   // chance that a metadata flag is flipped
  double labeler_error_rate = 0.0;    // chance that a demonstration contains a factual slip

  // Derived from difficulty.
  double constraint_rate() const;  // share of prompts with an instruction constraint
  int max_operand() const;         // arithmetic operands are 1..max_operand
  int passage_facts() const;       // facts in a summarization / closed-QA passage
};

// Fills every -1 from the preset; throws rlhf::Error on an unknown preset or an out-of-range knob.
WorldConfig resolve(const WorldConfig& config);

// Binds every knob to `options` (for --key value and YAML).
void bind_options(Options& options, WorldConfig& config);

void to_json(nlohmann::json& out, const WorldConfig& config);
void from_json(const nlohmann::json& in, WorldConfig& config);

}  // namespace rlhf::world
