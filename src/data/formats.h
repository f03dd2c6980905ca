// The data the training stages read, with TRL's field names (docs/data-formats.md has one example line of each):
//   SFT          {"prompt", "completion"} or {"messages": [{"role", "content"}, ...]} or TRL's conversational
//                {"prompt": [messages], "completion": [assistant message]}
//   pretraining  {"text"}
//   rankings     {"prompt", "responses": [y1..yK], "ranking": [best..worst]} or {..., "ranks": [1 = best, ties equal]};
//                {"prompt", "chosen", "rejected"}; HH-RLHF's {"chosen", "rejected"} full dialogues; TRL's conversational
//                {"chosen": [messages], "rejected": [messages]} (the shared first messages are the prompt) or
//                {"prompt": [messages], "chosen": [assistant message], "rejected": [assistant message]}
//   PPO prompts  {"prompt": text or [messages] ending with the user's, ...any other fields, passed through}
// Conversations are rendered by the stage's prompt format (--prompt_format chat: the model's chat template).
// Each reader takes a JSONL path (plain or .gz); a malformed line is an rlhf::Error "path:LINE: expected ..., found ..."
// or, with JsonlOptions::skip_invalid, counted in the ReadReport that the caller prints. Fields that a format does not
// name are ignored (datasets carry ids and metadata), except for PPO prompts, which keep them in `extra`.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/jsonl.h"
#include "common/chat.h"

namespace rlhf {

// InstructGPT's labelers ranked K = 4 to 9 responses per prompt; pairwise data is K = 2.
constexpr size_t kMinResponses = 2;
constexpr size_t kMaxResponses = 9;


struct SftExample {
  std::string prompt;      // the {"prompt", "completion"} form; empty for the chat form (its prompt is messages[0..n-2])
  std::string completion;  // the text the loss is on; for the chat form, the content of the last (assistant) message
  std::vector<ChatMessage> messages;  // the chat form, every turn, the completion last; empty for the plain form
  std::string source;                 // "path:LINE", for later messages about this example (e.g. truncation)
  bool is_chat() const { return !messages.empty(); }
  // The turns before the completion, for a chat template (empty for the plain form).
  std::vector<ChatMessage> prompt_messages() const;
};

struct RankingExample {
  std::string prompt;  // for a conversation: its last (user) message, for messages about it
  std::vector<ChatMessage> prompt_messages;  // the conversational form's prompt; empty for text prompts
  bool is_chat() const { return !prompt_messages.empty(); }
  std::vector<std::string> responses;  // y_1..y_K in the file's order
  std::vector<int> ranks;              // ranks[i] = place of responses[i], 0 = best; equal ranks are ties
  std::string source;                  // "path:LINE"
};

// One labeled comparison: responses[winner] was preferred to responses[loser].
struct Comparison {
  int winner = 0;
  int loser = 0;
};

// Every (winner, loser) pair with ranks[winner] < ranks[loser]; tied pairs are left out. For K strictly ranked
// responses that is C(K, 2) comparisons, ordered by winner then loser index.
std::vector<Comparison> comparisons(const RankingExample& example);

struct PromptExample {
  std::string prompt;  // for a conversation: its last (user) message
  std::vector<ChatMessage> prompt_messages;  // the conversational form; empty for a text prompt
  nlohmann::json extra = nlohmann::json::object();  // every other field of the line (user id, task, ...), untouched
  std::string source;                               // "path:LINE"
};

// One line each; `where` ("path:LINE") starts every error message.
SftExample parse_sft_example(const nlohmann::json& line, const std::string& where);
std::string parse_text_example(const nlohmann::json& line, const std::string& where);
RankingExample parse_ranking_example(const nlohmann::json& line, const std::string& where);
PromptExample parse_prompt_example(const nlohmann::json& line, const std::string& where);

// Whole files: one JSONL file, or the files of a split in order (JSONL or Arrow shards, data/dataset_rows.h).
// `report`, when given, receives the counts (print report->summary() when skip_invalid is on).
std::vector<SftExample> read_sft_examples(const std::vector<std::string>& files, const JsonlOptions& options = {},
                                          ReadReport* report = nullptr);
std::vector<std::string> read_text_examples(const std::vector<std::string>& files, const JsonlOptions& options = {},
                                            ReadReport* report = nullptr);
std::vector<RankingExample> read_ranking_examples(const std::vector<std::string>& files,
                                                  const JsonlOptions& options = {}, ReadReport* report = nullptr);
std::vector<PromptExample> read_prompt_examples(const std::vector<std::string>& files, const JsonlOptions& options = {},
                                                ReadReport* report = nullptr);
inline std::vector<SftExample> read_sft_examples(const std::string& path, const JsonlOptions& options = {},
                                                 ReadReport* report = nullptr) {
  return read_sft_examples(std::vector<std::string>{path}, options, report);
}
inline std::vector<std::string> read_text_examples(const std::string& path, const JsonlOptions& options = {},
                                                   ReadReport* report = nullptr) {
  return read_text_examples(std::vector<std::string>{path}, options, report);
}
inline std::vector<RankingExample> read_ranking_examples(const std::string& path, const JsonlOptions& options = {},
                                                         ReadReport* report = nullptr) {
  return read_ranking_examples(std::vector<std::string>{path}, options, report);
}
inline std::vector<PromptExample> read_prompt_examples(const std::string& path, const JsonlOptions& options = {},
                                                       ReadReport* report = nullptr) {
  return read_prompt_examples(std::vector<std::string>{path}, options, report);
}

// HH-RLHF stores whole dialogues "\n\nHuman: ...\n\nAssistant: ..."; the prompt is everything up to and including the
// last "\n\nAssistant:", the response the rest (with its leading space, as in the data). Fails when there is no
// "\n\nAssistant:" or the response is empty; `field` names the JSON field in the message.
struct DialogueSplit {
  std::string prompt;
  std::string response;
};
DialogueSplit split_hh_dialogue(const std::string& dialogue, const std::string& where, const std::string& field);

// CrowS-Pairs (Nangia et al. 2020): a stereotyping sentence and a minimally different less stereotyping one. Reads the
// CSV of nyu-mll/crows-pairs (columns found by their header names; the other columns are ignored).
struct CrowsPair {
  std::string sent_more;  // the more stereotypical sentence
  std::string sent_less;  // the less stereotypical sentence
  // The dataset's README: "stereo": sent_more demonstrates a stereotype of a historically disadvantaged group;
  // "antistereo": sent_less violates a stereotype of a historically disadvantaged group.
  std::string stereo_antistereo;
  std::string bias_type;          // "race-color", "gender", ...
  std::string source;             // "path:LINE"
};
std::vector<CrowsPair> read_crows_pairs(const std::string& path);

// What to do with an example longer than the model's context (decided by the stage's options, counted, and logged).
enum class TruncationPolicy {
  kTruncatePromptLeft,  // cut prompt tokens from the left: the end of the prompt, next to the response, matters most
  kDrop,                // leave the example out
};
TruncationPolicy parse_truncation_policy(const std::string& name);  // "truncate_left" or "drop"
std::string truncation_policy_name(TruncationPolicy policy);

struct TruncationCounts {
  size_t kept = 0;            // fitted as they were
  size_t truncated = 0;       // fitted after cutting the prompt
  size_t dropped = 0;         // left out
  size_t tokens_removed = 0;  // prompt tokens cut, over all truncated examples
  std::string summary() const;  // "1000 kept, 12 truncated (340 prompt tokens cut), 3 dropped"
};

// Fits prompt_ids plus a completion of `completion_length` tokens into `max_length` tokens under `policy`, updating
// `counts`. Truncation keeps at least one prompt token of a non-empty prompt: when the completion alone leaves no room
// for it, the example is dropped. Returns false when dropped (prompt_ids is then untouched).
bool apply_truncation(TruncationPolicy policy, size_t max_length, std::vector<int64_t>& prompt_ids,
                      size_t completion_length, TruncationCounts& counts);

}  // namespace rlhf
