// A compiled PCRE2 regular expression in Unicode mode (UTF + UCP, so \p{L}, \s and \w follow Unicode properties), as the
// pre-tokenizer patterns of GPT-2, Llama-3 and Qwen2 expect. HF tokenizers runs them with Oniguruma; for these patterns
// the two engines agree (checked against HF on random Unicode in tests/python/test_tokenizers.py).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rlhf {

class Regex {
 public:
  // `where` names the pattern's origin for errors ("tokenizer.json: pre_tokenizer.pattern").
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Every non-overlapping match in text[begin, end) as (start, end) byte offsets, left to right. Empty matches are
  // skipped (they split nothing). Thread-safe.
  std::vector<std::pair<size_t, size_t>> find_all(const std::string& text, size_t begin, size_t end) const;
  // True when the pattern matches somewhere in text[begin, end).
  bool search(const std::string& text, size_t begin, size_t end) const;

 private:
  struct Impl;
  std::string where_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rlhf
