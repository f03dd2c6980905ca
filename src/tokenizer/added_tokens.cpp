#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "common/error.h"
#include "common/json.h"
#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"

namespace rlhf {

namespace {

bool get_flag(const nlohmann::json& spec, const char* key, bool fallback, const std::string& where) {
  auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail(where + "." + key, "true or false", json_excerpt(*it));
  return it->get<bool>();
}

// Unicode White_Space, which HF's lstrip/rstrip use (Rust regex \s).
bool is_white_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Rust regex's \w (Alphabetic, marks, decimal digits, connector punctuation, joiners), for single_word.
bool is_word_char(const std::string& text, size_t at) {
  static const Regex word("^[\\p{L}\\p{Nl}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]", "added-token word test");
  size_t n = utf8::sequence_length(text, at);
  return n > 0 && word.search(text, at, at + n);
}

size_t previous_char_start(const std::string& text, size_t at) {
  do --at;
  while (at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80);
  return at;
}

}  // namespace

AddedToken AddedToken::from_json(const nlohmann::json& spec, const std::string& where) {
  if (!spec.is_object()) fail(where, "an object", json_excerpt(spec, 200));
  AddedToken token;
  auto id = spec.find("id");
  if (id == spec.end() || !id->is_number_integer() || id->get<int64_t>() < 0)
    fail(where + ".id", "a non-negative integer", id == spec.end() ? "nothing" : json_excerpt(*id));
  token.id = id->get<int64_t>();
  auto content = spec.find("content");
  if (content == spec.end() || !content->is_string())
    fail(where + ".content", "a string", content == spec.end() ? "nothing" : json_excerpt(*content));
  token.content = content->get<std::string>();
  utf8::require_valid(token.content, where + ".content");
  token.special = get_flag(spec, "special", false, where);
  token.single_word = get_flag(spec, "single_word", false, where);
  token.lstrip = get_flag(spec, "lstrip", false, where);
  token.rstrip = get_flag(spec, "rstrip", false, where);
  token.normalized = get_flag(spec, "normalized", !token.special, where);
  return token;
}

nlohmann::ordered_json AddedToken::to_json() const {
  return {{"id", id},           {"content", content}, {"single_word", single_word}, {"lstrip", lstrip},
          {"rstrip", rstrip},   {"normalized", normalized}, {"special", special}};
}

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) {
  for (auto& token : tokens)
    if (!token.content.empty()) tokens_.push_back(std::move(token));
  for (size_t i = 0; i < tokens_.size(); ++i)
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(static_cast<int>(i));
  for (auto& list : by_first_byte_)
    std::stable_sort(list.begin(), list.end(),
                     [&](int a, int b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
}

void AddedTokenMatcher::split(const std::string& text, size_t begin, size_t end, std::vector<TextSegment>* out) const {
  size_t emitted = begin;  // end of the last segment pushed
  size_t at = begin;
  while (at < end) {
    const auto& candidates = by_first_byte_[static_cast<unsigned char>(text[at])];
    const AddedToken* found = nullptr;
    for (int index : candidates) {
      const std::string& content = tokens_[index].content;
      if (content.size() <= end - at && text.compare(at, content.size(), content) == 0) {
        found = &tokens_[index];  // the longest that matches here: leftmost-longest
        break;
      }
    }
    if (!found) {
      ++at;
      continue;
    }
    size_t start = at, stop = at + found->content.size();
    if (found->single_word) {
      bool word_before = start > begin && is_word_char(text, previous_char_start(text, start));
      bool word_after = stop < end && is_word_char(text, stop);
      if (word_before || word_after) {  // HF drops the match and goes on after it
        at = stop;
        continue;
      }
    }
    if (found->lstrip) {
      while (start > emitted) {
        size_t previous = previous_char_start(text, start);
        if (previous < emitted || !is_white_space(utf8::decode_at(text, previous))) break;
        start = previous;
      }
    }
    if (found->rstrip) {
      while (stop < end) {
        size_t n = utf8::sequence_length(text, stop);
        if (n == 0 || !is_white_space(utf8::decode_at(text, stop))) break;
        stop += n;
      }
    }
    if (emitted < start) out->push_back({emitted, start, -1});
    out->push_back({start, stop, found->id});
    emitted = at = stop;
  }
  if (emitted < end) out->push_back({emitted, end, -1});
}

}  // namespace rlhf
