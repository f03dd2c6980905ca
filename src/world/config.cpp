#include "world/config.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json.h"
#include "common/options.h"

namespace rlhf::world {

namespace {

struct Preset {
  int countries, people, fictional_entities, misconceptions, corpus_documents, heldout_documents, users, prompts,
      benchmark_items;
};

// demo: a few MB of text, a prompt log that curates to a few thousand prompts (runs on 2 cores in minutes).
// paper: about ten times more of everything.
Preset preset_named(const std::string& name) {
  if (name == "demo") return {30, 40, 12, 8, 30000, 1500, 300, 8000, 200};
  if (name == "paper") return {100, 200, 30, 12, 150000, 6000, 3000, 100000, 600};
  fail("world preset", "'demo' or 'paper'", "'" + name + "'");
}

void fill(int& field, int value) {
  if (field < 0) field = value;
}

void check_rate(double value, const std::string& name) {
  if (!(value >= 0.0 && value <= 1.0)) fail("world config " + name, "a value in [0, 1]", std::to_string(value));
}

}  // namespace

double WorldConfig::constraint_rate() const { return 0.2 + 0.6 * difficulty; }
int WorldConfig::max_operand() const { return 5 + static_cast<int>(std::lround(15.0 * difficulty)); }
int WorldConfig::passage_facts() const { return 3 + static_cast<int>(std::lround(difficulty)); }

WorldConfig resolve(const WorldConfig& config) {
  WorldConfig c = config;
  check_rate(c.difficulty, "difficulty");
  Preset p = preset_named(c.preset);
  double scale = 0.5 + c.difficulty;
  fill(c.countries, static_cast<int>(std::lround(p.countries * scale)));
  fill(c.people, static_cast<int>(std::lround(p.people * scale)));
  fill(c.fictional_entities, p.fictional_entities);
  fill(c.misconceptions, p.misconceptions);
  fill(c.corpus_documents, p.corpus_documents);
  fill(c.heldout_documents, p.heldout_documents);
  fill(c.users, p.users);
  fill(c.prompts, p.prompts);
  fill(c.benchmark_items, p.benchmark_items);
  for (auto [name, rate] : {std::pair<const char*, double>{"rude_reply_rate", c.rude_reply_rate},
                            {"pronoun_skew", c.pronoun_skew}, {"made_up_answer_rate", c.made_up_answer_rate},
                            {"few_shot_rate", c.few_shot_rate}, {"user_based_rate", c.user_based_rate},
                            {"pii_rate", c.pii_rate}, {"decoy_number_rate", c.decoy_number_rate},
                            {"near_duplicate_rate", c.near_duplicate_rate},
                            {"exact_duplicate_rate", c.exact_duplicate_rate},
                            {"harmful_share", c.harmful_share},
                            {"labeler_flag_noise", c.labeler_flag_noise},
                            {"labeler_error_rate", c.labeler_error_rate}})
    check_rate(rate, name);
  if (c.few_shot_rate + c.user_based_rate > 1.0)
    fail("world config few_shot_rate + user_based_rate", "at most 1", std::to_string(c.few_shot_rate + c.user_based_rate));
  if (c.countries < 8) fail("world config countries", "at least 8", std::to_string(c.countries));
  if (c.people < 8) fail("world config people", "at least 8", std::to_string(c.people));
  if (c.fictional_entities < 4) fail("world config fictional_entities", "at least 4", std::to_string(c.fictional_entities));
  if (c.misconceptions < 1 || c.misconceptions > c.countries / 2 + 3)
    fail("world config misconceptions", "1.." + std::to_string(c.countries / 2 + 3), std::to_string(c.misconceptions));
  if (c.corpus_documents < 100) fail("world config corpus_documents", "at least 100", std::to_string(c.corpus_documents));
  if (c.heldout_documents < 10) fail("world config heldout_documents", "at least 10", std::to_string(c.heldout_documents));
  if (c.users < 10) fail("world config users", "at least 10", std::to_string(c.users));
  if (c.prompts < c.users) fail("world config prompts", "at least one per user (" + std::to_string(c.users) + ")",
                                std::to_string(c.prompts));
  if (c.benchmark_items < 10) fail("world config benchmark_items", "at least 10", std::to_string(c.benchmark_items));
  if (c.misconception_ratio < 0) fail("world config misconception_ratio", "a value >= 0", std::to_string(c.misconception_ratio));
  if (c.user_zipf_exponent < 0) fail("world config user_zipf_exponent", "a value >= 0", std::to_string(c.user_zipf_exponent));
  if (c.labeler_groups < 1 || c.labelers < c.labeler_groups)
    fail("world config labelers/labeler_groups", "at least one labeler per group",
         std::to_string(c.labelers) + " labelers in " + std::to_string(c.labeler_groups) + " groups");
  if (c.held_out_group < -1 || c.held_out_group >= c.labeler_groups)
    fail("world config held_out_group", "-1 or a group index below " + std::to_string(c.labeler_groups),
         std::to_string(c.held_out_group));
  if (!(c.labeler_temperature > 0)) fail("world config labeler_temperature", "a value > 0", std::to_string(c.labeler_temperature));
  if (c.labeler_weight_noise < 0) fail("world config labeler_weight_noise", "a value >= 0", std::to_string(c.labeler_weight_noise));
  return c;
}

void bind_options(Options& o, WorldConfig& c) {
  o.add("preset", &c.preset, "size preset: demo or paper");
  o.add("seed", &c.seed, "random seed (same seed and knobs -> identical files)");
  o.add("difficulty", &c.difficulty, "0 easy .. 1 hard: facts to learn, constraints, operands, passage length");
  o.add("countries", &c.countries, "countries in the knowledge base (-1: preset)");
  o.add("people", &c.people, "people in the knowledge base (-1: preset)");
  o.add("fictional_entities", &c.fictional_entities, "countries and people absent from the corpus (-1: preset)");
  o.add("misconceptions", &c.misconceptions, "facts whose falsehood dominates the corpus (-1: preset)");
  o.add("corpus_documents", &c.corpus_documents, "pretraining documents (-1: preset)");
  o.add("heldout_documents", &c.heldout_documents, "held-out pretraining documents (-1: preset)");
  o.add("users", &c.users, "API users (-1: preset)");
  o.add("prompts", &c.prompts, "raw prompt log lines (-1: preset)");
  o.add("benchmark_items", &c.benchmark_items, "items per benchmark suite (-1: preset)");
  o.add("misconception_ratio", &c.misconception_ratio, "falsehood statements per truth statement");
  o.add("rude_reply_rate", &c.rude_reply_rate, "share of rude forum replies");
  o.add("pronoun_skew", &c.pronoun_skew, "share of an occupation's mentions with its majority pronoun");
  o.add("made_up_answer_rate", &c.made_up_answer_rate, "share of forum threads answering about unknown entities");
  o.add("user_zipf_exponent", &c.user_zipf_exponent, "heavy tail of prompts per user");
  o.add("few_shot_rate", &c.few_shot_rate, "mean share of few-shot prompts");
  o.add("user_based_rate", &c.user_based_rate, "mean share of user-based prompts");
  o.add("pii_rate", &c.pii_rate, "share of prompts with PII");
  o.add("decoy_number_rate", &c.decoy_number_rate, "share of prompts with a Luhn-invalid 16-digit number");
  o.add("near_duplicate_rate", &c.near_duplicate_rate, "share of near-duplicate re-submissions");
  o.add("exact_duplicate_rate", &c.exact_duplicate_rate, "share of exact re-submissions");
  o.add("harmful_share", &c.harmful_share,
        "share of new prompts that are harmful requests (insult, private details, false claim) labelers decline");
  o.add("labelers", &c.labelers, "simulated labelers");
  o.add("labeler_groups", &c.labeler_groups, "labeler groups (shared tastes within a group)");
  o.add("held_out_group", &c.held_out_group, "labeler group kept out of training data (-1: none)");
  o.add("labeler_temperature", &c.labeler_temperature, "Plackett-Luce temperature of rankings");
  o.add("labeler_weight_noise", &c.labeler_weight_noise, "personal deviation of labeler weights");
  o.add("labeler_flag_noise", &c.labeler_flag_noise, "chance a metadata flag is flipped");
  o.add("labeler_error_rate", &c.labeler_error_rate, "chance a demonstration has a factual slip");
}

#define RLHF_WORLD_FIELDS(X)                                                                                      \
  X(preset) X(seed) X(difficulty) X(countries) X(people) X(fictional_entities) X(misconceptions) X(corpus_documents) \
  X(heldout_documents) X(users) X(prompts) X(benchmark_items) X(misconception_ratio) X(rude_reply_rate)              \
  X(pronoun_skew) X(made_up_answer_rate) X(user_zipf_exponent) X(few_shot_rate) X(user_based_rate) X(pii_rate)       \
  X(decoy_number_rate) X(near_duplicate_rate) X(exact_duplicate_rate) X(harmful_share) X(labelers) X(labeler_groups)  \
  X(held_out_group) X(labeler_temperature) X(labeler_weight_noise) X(labeler_flag_noise) X(labeler_error_rate)

void to_json(nlohmann::json& out, const WorldConfig& c) {
  out = nlohmann::json::object();
#define X(name) out[#name] = c.name;
  RLHF_WORLD_FIELDS(X)
#undef X
}

void from_json(const nlohmann::json& in, WorldConfig& c) {
  if (!in.is_object()) fail("world config", "a JSON object", in.type_name());
  for (auto it = in.begin(); it != in.end(); ++it) {
    bool known = false;
#define X(name)                                                                                          \
  if (it.key() == #name) {                                                                               \
    known = true;                                                                                        \
    try {                                                                                                \
      it.value().get_to(c.name);                                                                         \
    } catch (const nlohmann::json::exception&) {                                                         \
      fail("world config field '" #name "'", "a value of the right type", json_excerpt(it.value()));            \
    }                                                                                                    \
  }
    RLHF_WORLD_FIELDS(X)
#undef X
    if (!known) fail("world config", "known fields", "unknown field '" + it.key() + "'");
  }
}

}  // namespace rlhf::world
