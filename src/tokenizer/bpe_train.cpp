#include "tokenizer/bpe_train.h"

#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace rlhf {

namespace {

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
int32_t left_of(uint64_t key) { return static_cast<int32_t>(key >> 32); }
int32_t right_of(uint64_t key) { return static_cast<int32_t>(key & 0xFFFFFFFFu); }

struct Word {
  std::vector<int32_t> symbols;
  int64_t count = 0;
  uint32_t stamp = 0;  // the merge step that last visited this word (pair_words may list a word twice)
};

struct HeapEntry {
  int64_t count;
  uint64_t pair;
  bool operator<(const HeapEntry& other) const {  // max count first, then the smaller pair
    return count != other.count ? count < other.count : pair > other.pair;
  }
};

// GPT-2 pre-tokenization of every text (special tokens cut out first), counted by distinct piece.
std::unordered_map<std::string, int64_t> count_pieces(const std::vector<std::string>& texts,
                                                      const std::vector<std::string>& special_tokens,
                                                      bool add_prefix_space) {
  std::vector<AddedToken> specials;
  for (size_t i = 0; i < special_tokens.size(); ++i) specials.push_back({static_cast<int64_t>(i), special_tokens[i], true});
  AddedTokenMatcher matcher(specials);
  PreTokenizer pre_tokenizer = PreTokenizer::byte_level(add_prefix_space);
  std::unordered_map<std::string, int64_t> counts;
  std::vector<TextSegment> segments;
  std::vector<std::string> pieces;
  for (size_t t = 0; t < texts.size(); ++t) {
    const std::string& text = texts[t];
    utf8::require_valid(text, "training text " + std::to_string(t));
    segments.clear();
    matcher.split(text, 0, text.size(), &segments);
    for (const TextSegment& segment : segments) {
      if (segment.id >= 0) continue;
      pieces.clear();
      pre_tokenizer.split(text.substr(segment.begin, segment.end - segment.begin), &pieces);
      for (std::string& piece : pieces) ++counts[std::move(piece)];
    }
  }
  return counts;
}

}  // namespace

std::unique_ptr<BpeTokenizer> train_bpe(const std::vector<std::string>& texts, int64_t vocab_size,
                                        const std::vector<std::string>& special_tokens, const BpeTrainOptions& options) {
  const int32_t first_byte = static_cast<int32_t>(special_tokens.size());
  if (vocab_size < first_byte + 256)
    fail("train_bpe: vocab_size", "at least " + std::to_string(first_byte + 256) + " (special tokens + 256 bytes)",
         std::to_string(vocab_size));
  std::unordered_set<std::string> seen;
  for (const std::string& token : special_tokens) {
    if (token.empty() || !seen.insert(token).second)
      fail("train_bpe: special_tokens", "distinct non-empty strings", "\"" + token + "\"");
    utf8::require_valid(token, "train_bpe: special token");
  }

  // Vocabulary spelled in the byte-level alphabet, as tokenizer.json stores it.
  std::vector<std::string> spelling;
  std::unordered_map<std::string, int32_t> id_of;
  for (const std::string& token : special_tokens) id_of[token] = static_cast<int32_t>(spelling.size()), spelling.push_back(token);
  for (int b = 0; b < 256; ++b) {
    const std::string& c = byte_level::char_for_byte(static_cast<unsigned char>(b));
    id_of.emplace(c, static_cast<int32_t>(spelling.size()));  // a special token spelled like a byte keeps its id
    spelling.push_back(c);
  }

  std::vector<Word> words;
  for (auto& [piece, count] : count_pieces(texts, special_tokens, options.add_prefix_space)) {
    Word word;
    word.count = count;
    for (unsigned char b : piece) word.symbols.push_back(first_byte + b);
    words.push_back(std::move(word));
  }

  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> pair_words;
  for (int32_t w = 0; w < static_cast<int32_t>(words.size()); ++w) {
    const auto& symbols = words[w].symbols;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      uint64_t key = pair_key(symbols[i], symbols[i + 1]);
      pair_count[key] += words[w].count;
      pair_words[key].push_back(w);
    }
  }
  std::priority_queue<HeapEntry> heap;
  for (const auto& [key, count] : pair_count) heap.push({count, key});

  std::vector<std::pair<std::string, std::string>> merges;
  std::unordered_set<uint64_t> merged_pairs;
  std::unordered_map<uint64_t, int64_t> delta;
  uint32_t step = 0;
  const int64_t min_frequency = std::max<int64_t>(options.min_frequency, 1);
  while (static_cast<int64_t>(spelling.size()) < vocab_size && !heap.empty()) {
    HeapEntry top = heap.top();
    heap.pop();
    auto current = pair_count.find(top.pair);
    int64_t count = current == pair_count.end() ? 0 : current->second;
    if (count != top.count) {
      // Stale: the count fell since this entry was pushed (a rise pushes its own entry).
      if (count > 0 && count < top.count) heap.push({count, top.pair});
      continue;
    }
    if (count < min_frequency) break;
    if (!merged_pairs.insert(top.pair).second) continue;

    int32_t left = left_of(top.pair), right = right_of(top.pair);
    std::string merged_spelling = spelling[left] + spelling[right];
    auto [it, inserted] = id_of.emplace(merged_spelling, static_cast<int32_t>(spelling.size()));
    if (inserted) spelling.push_back(merged_spelling);
    int32_t merged = it->second;
    merges.emplace_back(spelling[left], spelling[right]);

    // Rewrite every word that holds the pair, recording how each pair's count changes.
    ++step;
    delta.clear();
    std::vector<int32_t> holders;
    holders.swap(pair_words[top.pair]);
    for (int32_t w : holders) {
      Word& word = words[w];
      if (word.stamp == step) continue;
      word.stamp = step;
      auto& symbols = word.symbols;
      bool found = false;
      for (size_t i = 0; i + 1 < symbols.size(); ++i)
        if (symbols[i] == left && symbols[i + 1] == right) { found = true; break; }
      if (!found) continue;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) delta[pair_key(symbols[i], symbols[i + 1])] -= word.count;
      std::vector<int32_t> rewritten;
      rewritten.reserve(symbols.size());
      for (size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
          rewritten.push_back(merged);
          ++i;
        } else {
          rewritten.push_back(symbols[i]);
        }
      }
      symbols.swap(rewritten);
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        uint64_t key = pair_key(symbols[i], symbols[i + 1]);
        delta[key] += word.count;
        if (symbols[i] == merged || symbols[i + 1] == merged) pair_words[key].push_back(w);
      }
    }
    for (const auto& [key, change] : delta) {
      if (change == 0) continue;
      int64_t& total = pair_count[key];
      total += change;
      if (change > 0 && !merged_pairs.count(key)) heap.push({total, key});
    }
    pair_count.erase(top.pair);
  }

  BpeTokenizer::Parts parts;
  for (size_t id = 0; id < spelling.size(); ++id) {
    // A special token spelled like a byte character owns that spelling's id; the byte's duplicate entry is dropped.
    if (id_of[spelling[id]] == static_cast<int32_t>(id)) parts.vocab.emplace_back(spelling[id], static_cast<int64_t>(id));
  }
  parts.merges = std::move(merges);
  for (size_t i = 0; i < special_tokens.size(); ++i) {
    AddedToken token;
    token.id = static_cast<int64_t>(i);
    token.content = special_tokens[i];
    token.special = true;
    parts.added_tokens.push_back(token);
  }
  parts.pre_tokenizer = PreTokenizer::byte_level(options.add_prefix_space);
  auto tokenizer = std::make_unique<BpeTokenizer>(std::move(parts), "train_bpe");
  auto id_for = [&](const std::string& name, const char* option) -> int64_t {
    if (name.empty()) return -1;
    for (size_t i = 0; i < special_tokens.size(); ++i)
      if (special_tokens[i] == name) return static_cast<int64_t>(i);
    fail(std::string("train_bpe: ") + option, "one of the special tokens", "\"" + name + "\"");
  };
  tokenizer->set_special_ids(id_for(options.bos_token, "bos_token"), id_for(options.eos_token, "eos_token"),
                             id_for(options.pad_token, "pad_token"));
  return tokenizer;
}

}  // namespace rlhf
