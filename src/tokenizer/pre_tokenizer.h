// The pre-tokenizer of a byte-level BPE tokenizer: cuts text into the pieces that BPE merges within (never across).
// Mirrors HF tokenizers' ByteLevel, Split, Digits and Sequence pre-tokenizers, read from and written to tokenizer.json.
// Pieces are kept as raw bytes: the byte-level character mapping is only a spelling of the vocabulary (byte_level.h).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/regex.h"

namespace rlhf {

// GPT-2's pre-tokenizer regex (HF's ByteLevel with use_regex=true).
extern const char* const kGpt2Pattern;

class PreTokenizer {
 public:
  // `where` names the JSON location for errors ("tokenizer.json: pre_tokenizer"). Unknown types are an rlhf::Error.
  static PreTokenizer from_json(const nlohmann::json& spec, const std::string& where);
  // ByteLevel(add_prefix_space, use_regex=true): GPT-2's.
  static PreTokenizer byte_level(bool add_prefix_space);

  // Appends the pieces of `text` (already UTF-8 validated) to `pieces`.
  void split(const std::string& text, std::vector<std::string>* pieces) const;

  // True when a ByteLevel step is present (required: only byte-level BPE is supported).
  bool has_byte_level() const;
  nlohmann::ordered_json to_json() const;

 private:
  enum class Kind { kByteLevel, kSplit };
  enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
  struct Step {
    Kind kind = Kind::kSplit;
    bool add_prefix_space = false, use_regex = true, invert = false;
    std::shared_ptr<Regex> regex;  // null for a literal String pattern
    std::string literal;
    Behavior behavior = Behavior::kIsolated;
    nlohmann::ordered_json spec;   // as read (or made), written back by to_json
  };
  static void parse_into(const nlohmann::json& spec, const std::string& where, std::vector<Step>* steps);
  static void apply(const Step& step, const std::string& piece, std::vector<std::string>* out);

  std::vector<Step> steps_;
  nlohmann::ordered_json spec_;
};

}  // namespace rlhf
