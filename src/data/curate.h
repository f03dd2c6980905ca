// Prompt curation as in InstructGPT (section 3.2): for any prompt log in JSONL with a user id field,
//   1. PII: redact (placeholders) or drop prompts with emails, phone numbers, card-like numbers, addresses, IPs;
//   2. exact dedup, then dedup by long common prefix (prompts whose first `prefix_chars` characters agree);
//   3. at most `max_per_user` prompts per user (a seeded random sample, log order kept);
//   4. a train/validation/test split BY USER: no user appears in two splits.
// Every other field (prompt_type, task, ...) passes through untouched. The report counts what each step removed.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::data {

struct CurateOptions {
  std::string text_field = "prompt";
  std::string user_field = "user_id";
  int prefix_chars = 48;                   // characters (UTF-8 code points); 0 turns prefix dedup off
  int max_per_user = 200;                  // 0 turns the cap off
  std::vector<double> split = {0.8, 0.1, 0.1};  // train, validation, test (normalised)
  std::string pii = "redact";              // redact | drop
  uint64_t seed = 0;
};

struct CurationReport {
  size_t input = 0;
  size_t pii_prompts = 0;                 // prompts with at least one PII match
  std::map<std::string, size_t> pii_matches;  // kind -> matches
  size_t pii_redacted = 0, pii_dropped = 0;
  size_t exact_duplicates = 0, prefix_duplicates = 0;
  size_t over_user_cap = 0, users_over_cap = 0;
  size_t users = 0, kept = 0;
  std::map<std::string, size_t> split_prompts, split_users;
  std::map<std::string, std::map<std::string, size_t>> prompt_types;  // split -> prompt_type -> count
  CurateOptions options;
  nlohmann::json to_json() const;
  std::string summary() const;  // the lines `rlhf data curate` prints
};

struct Curated {
  std::vector<nlohmann::json> train, validation, test;
  CurationReport report;
};

// `where[i]` names record i in errors ("log.jsonl:12"); empty: "record i".
Curated curate(const std::vector<nlohmann::json>& records, const CurateOptions& options,
               const std::vector<std::string>& where = {});

// Reads `input` (JSONL), curates, writes out_dir/{train,validation,test}.jsonl and out_dir/curation_report.json.
CurationReport curate_file(const std::string& input, const std::string& out_dir, const CurateOptions& options);

// "0.8,0.1,0.1" -> {0.8, 0.1, 0.1}; three non-negative numbers with a positive sum.
std::vector<double> parse_split(const std::string& text);

}  // namespace rlhf::data
