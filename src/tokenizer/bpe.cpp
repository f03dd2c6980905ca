#include "tokenizer/bpe.h"

#include <algorithm>
#include <queue>

#include "common/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace rlhf {

namespace {

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Pieces longer than this are merged every time rather than cached (HF's cache has the same kind of bound): they are
// rare, and caching them would let one long whitespace run evict many short words.
constexpr size_t kMaxCachedPieceBytes = 256;
constexpr size_t kMaxCacheEntries = 200000;

// The bytes HF's ByteLevel decoder produces for one token: the byte-level characters mapped back to bytes, or, when a
// character lies outside the 256-character alphabet (added tokens such as "<|im start|>" with a space), the token's
// own UTF-8 bytes.
std::string decoded_bytes(const std::string& spelling) {
  std::string bytes;
  return byte_level::decode(spelling, &bytes) ? bytes : spelling;
}

}  // namespace

BpeTokenizer::BpeTokenizer(Parts parts, const std::string& where)
    : normalizer_(std::move(parts.normalizer)),
      pre_tokenizer_(std::move(parts.pre_tokenizer)),
      post_processor_(std::move(parts.post_processor)),
      ignore_merges_(parts.ignore_merges),
      fuse_unk_(parts.fuse_unk),
      unk_token_(std::move(parts.unk_token)) {
  if (!pre_tokenizer_.has_byte_level())
    fail(where + ": pre_tokenizer", "a ByteLevel step (only byte-level BPE is supported)", "none");
  int64_t size = 0;
  for (const auto& [spelling, id] : parts.vocab) {
    if (id < 0 || id > INT32_MAX) fail(where + ": vocab[\"" + spelling + "\"]", "an id in 0..2^31-1", std::to_string(id));
    size = std::max(size, id + 1);
  }
  for (const auto& token : parts.added_tokens) size = std::max(size, token.id + 1);
  // Tables are sized by the largest id: a 20-byte file naming id 2^31 must not cost 64 GB. Real tokenizers number
  // their tokens nearly densely, so ids may leave gaps, but not more gaps than there are tokens (plus 65536).
  const int64_t entries = static_cast<int64_t>(parts.vocab.size() + parts.added_tokens.size());
  const int64_t max_size = std::max<int64_t>(2 * entries, entries + 65536);
  if (size > max_size)
    fail(where, "ids below " + std::to_string(max_size) + " for " + std::to_string(entries) + " tokens",
         "id " + std::to_string(size - 1));
  tokens_.assign(size, "");
  token_bytes_.assign(size, "");
  special_.assign(size, 0);

  for (const auto& [spelling, id] : parts.vocab) {
    utf8::require_valid(spelling, where + ": vocab entry " + std::to_string(id));
    tokens_[id] = spelling;
    token_bytes_[id] = decoded_bytes(spelling);
    model_vocab_[spelling] = static_cast<int32_t>(id);
    vocab_[spelling] = static_cast<int32_t>(id);
    std::string bytes;
    if (byte_level::decode(spelling, &bytes)) bytes_vocab_[bytes] = static_cast<int32_t>(id);
  }
  for (int b = 0; b < 256; ++b) {
    auto it = model_vocab_.find(byte_level::char_for_byte(static_cast<unsigned char>(b)));
    byte_ids_[b] = it == model_vocab_.end() ? -1 : it->second;
  }

  merge_list_ = std::move(parts.merges);
  for (size_t rank = 0; rank < merge_list_.size(); ++rank) {
    // Not a structured binding: C++17 lambdas cannot capture those (clang refuses; the fuzz build uses clang).
    const std::string& left = merge_list_[rank].first;
    const std::string& right = merge_list_[rank].second;
    auto name = [&] { return where + ": merges[" + std::to_string(rank) + "] \"" + left + " " + right + "\""; };
    auto left_it = model_vocab_.find(left), right_it = model_vocab_.find(right), merged_it = model_vocab_.find(left + right);
    if (left_it == model_vocab_.end()) fail(name(), "tokens of the vocab", "unknown token \"" + left + "\"");
    if (right_it == model_vocab_.end()) fail(name(), "tokens of the vocab", "unknown token \"" + right + "\"");
    if (merged_it == model_vocab_.end())
      fail(name(), "the merged token in the vocab", "no token \"" + left + right + "\"");
    // A pair listed twice keeps its later rank, as HF's map does.
    merges_[pair_key(left_it->second, right_it->second)] = {static_cast<int32_t>(rank), merged_it->second};
  }

  if (unk_token_) {
    auto it = model_vocab_.find(*unk_token_);
    if (it == model_vocab_.end()) fail(where + ": model.unk_token", "a token of the vocab", "\"" + *unk_token_ + "\"");
    unk_id_ = it->second;
  }

  std::vector<AddedToken> raw, normalized;
  for (auto& token : parts.added_tokens) {
    tokens_[token.id] = token.content;
    token_bytes_[token.id] = decoded_bytes(token.content);
    special_[token.id] = token.special ? 1 : 0;
    vocab_[token.content] = static_cast<int32_t>(token.id);
    if (token.normalized && normalizer_.active()) {
      AddedToken copy = token;
      copy.content = normalizer_.normalize(token.content);  // HF matches normalized tokens in their normalized form
      normalized.push_back(copy);
    } else {
      (token.normalized ? normalized : raw).push_back(token);
    }
    added_tokens_.push_back(std::move(token));
  }
  raw_matcher_ = AddedTokenMatcher(std::move(raw));
  normalized_matcher_ = AddedTokenMatcher(std::move(normalized));
}

std::vector<int64_t> BpeTokenizer::encode(const std::string& text, bool add_bos) const {
  utf8::require_valid(text, "text to encode");
  std::vector<int64_t> ids;
  if (add_bos && bos_id_ >= 0) ids.push_back(bos_id_);
  // Two passes as HF's AddedVocabulary: tokens that match the raw text first, then (inside the remaining text, once
  // normalized) the tokens that match normalized text.
  std::vector<TextSegment> raw_segments, segments;
  raw_matcher_.split(text, 0, text.size(), &raw_segments);
  for (const TextSegment& raw : raw_segments) {
    if (raw.id >= 0) {
      ids.push_back(raw.id);
      continue;
    }
    std::string part = normalizer_.normalize(text.substr(raw.begin, raw.end - raw.begin));
    segments.clear();
    normalized_matcher_.split(part, 0, part.size(), &segments);
    for (const TextSegment& segment : segments) {
      if (segment.id >= 0) ids.push_back(segment.id);
      else encode_ordinary(part, segment.begin, segment.end, &ids);
    }
  }
  return ids;
}

void BpeTokenizer::encode_ordinary(const std::string& text, size_t begin, size_t end, std::vector<int64_t>* ids) const {
  std::vector<std::string> pieces;
  pre_tokenizer_.split(text.substr(begin, end - begin), &pieces);
  for (const std::string& piece : pieces) encode_piece(piece, ids);
}

void BpeTokenizer::encode_piece(const std::string& piece, std::vector<int64_t>* ids) const {
  if (ignore_merges_) {
    // Llama-3: a piece that is itself a vocabulary token is that token, whatever the merges would give.
    auto it = bytes_vocab_.find(piece);
    if (it != bytes_vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  bool cacheable = piece.size() <= kMaxCachedPieceBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(piece);
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> merged;
  merge_word(piece, &merged);
  ids->insert(ids->end(), merged.begin(), merged.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.emplace(piece, std::move(merged));
  }
}

void BpeTokenizer::merge_word(const std::string& piece, std::vector<int32_t>* out) const {
  // A doubly linked list of symbols and a queue of candidate merges ordered by (rank, position): HF's Word::merge_all.
  // Entries that went stale (a neighbour merged first) are recognised when popped and skipped.
  struct Symbol {
    int32_t id, prev, next, length;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  bool previous_unknown = false;
  for (unsigned char byte : piece) {
    int32_t id = byte_ids_[byte];
    if (id < 0) {
      if (unk_id_ < 0) continue;  // no unk token: HF drops what the vocab cannot spell
      if (fuse_unk_ && previous_unknown) {
        symbols.back().length += 1;
        continue;
      }
      id = unk_id_;
      previous_unknown = true;
    } else {
      previous_unknown = false;
    }
    int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, index + 1, 1});
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  struct Candidate {
    int32_t rank, position, merged_id;
    bool operator<(const Candidate& other) const {  // std::priority_queue pops the largest: invert
      return rank != other.rank ? rank > other.rank : position > other.position;
    }
  };
  std::priority_queue<Candidate> queue;
  auto consider = [&](int32_t position) {
    int32_t next = symbols[position].next;
    if (next < 0) return;
    auto it = merges_.find(pair_key(symbols[position].id, symbols[next].id));
    if (it != merges_.end()) queue.push({it->second.first, position, it->second.second});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i);

  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.position];
    if (left.length == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    auto it = merges_.find(pair_key(left.id, right.id));
    if (it == merges_.end() || it->second.second != top.merged_id) continue;  // stale
    left.id = top.merged_id;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.position;
    if (left.prev >= 0) consider(left.prev);
    consider(top.position);
  }
  for (const Symbol& symbol : symbols)
    if (symbol.length > 0) out->push_back(symbol.id);
}

std::string BpeTokenizer::decode_bytes(const std::vector<int64_t>& ids, bool skip_special) const {
  std::string out;
  for (int64_t id : ids) {
    if (id < 0 || id >= static_cast<int64_t>(tokens_.size()) || tokens_[id].empty()) continue;
    if (skip_special && special_[id]) continue;
    out += token_bytes_[id];
  }
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  return utf8::to_valid(decode_bytes(ids, skip_special));
}

int64_t BpeTokenizer::token_to_id(const std::string& token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

std::string BpeTokenizer::id_to_token(int64_t id) const {
  return id >= 0 && id < static_cast<int64_t>(tokens_.size()) ? tokens_[id] : std::string();
}

bool BpeTokenizer::is_special(int64_t id) const {
  return id >= 0 && id < static_cast<int64_t>(special_.size()) && special_[id];
}

}  // namespace rlhf
