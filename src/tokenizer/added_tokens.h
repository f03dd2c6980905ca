// Added (and special) tokens: strings matched literally in the text before any pre-tokenization, as HF tokenizers'
// AddedVocabulary does (leftmost-longest match; single_word, lstrip and rstrip options).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf {

struct AddedToken {
  int64_t id = -1;
  std::string content;
  bool special = false;      // skipped by decode(skip_special=true)
  bool single_word = false;  // only matches when not inside a word
  bool lstrip = false;       // absorbs the whitespace on its left
  bool rstrip = false;       // absorbs the whitespace on its right
  bool normalized = false;   // matched in the normalized text rather than the raw text

  static AddedToken from_json(const nlohmann::json& spec, const std::string& where);
  nlohmann::ordered_json to_json() const;
};

// One piece of a text after added-token matching: a byte range and the added token's id, or -1 for ordinary text.
struct TextSegment {
  size_t begin, end;
  int64_t id;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);
  bool empty() const { return tokens_.empty(); }
  // Splits text[begin, end) into ordinary segments and added tokens, in order, covering the range.
  void split(const std::string& text, size_t begin, size_t end, std::vector<TextSegment>* out) const;

 private:
  std::vector<AddedToken> tokens_;
  std::array<std::vector<int>, 256> by_first_byte_;  // indices into tokens_, longest content first
};

}  // namespace rlhf
