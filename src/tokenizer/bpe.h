// Byte-level BPE (GPT-2, Llama-3, Qwen2 and our own trained tokenizers), matching HF tokenizers id for id.
//
// Encoding: added/special tokens are cut out of the raw text first (added_tokens.h); the rest is normalized (none or
// NFC), cut into pieces by the pre-tokenizer (pre_tokenizer.h), and each piece's bytes are merged by rank (lowest rank
// first, leftmost on ties, exactly as HF's BPE::merge_word). Decoding maps tokens back to bytes (ByteLevel decoder).
//
// tokenizer.json support (anything else is an rlhf::Error that names the feature):
//   model:          type BPE; vocab; merges as "a b" strings or ["a", "b"] pairs; ignore_merges; unk_token; fuse_unk;
//                   dropout null/0. Refused: byte_fallback, continuing_subword_prefix, end_of_word_suffix, dropout > 0,
//                   other model types (WordPiece, Unigram, WordLevel).
//   added_tokens:   all, with special / single_word / lstrip / rstrip / normalized.
//   normalizer:     null, NFC, Sequence of NFC. Refused: every other type (Lowercase, NFKC, Prepend, Replace, ...).
//   pre_tokenizer:  ByteLevel (add_prefix_space, use_regex), Split (Regex or String pattern, every behavior, invert),
//                   Digits, Sequence of these; must contain a ByteLevel. Refused: Metaspace, Whitespace, BertPreTokenizer...
//   decoder:        ByteLevel (or a Sequence holding only ByteLevel). Refused: everything else, null included.
//   post_processor: kept as is when saving but never applied (encode(add_bos) is our only special-token insertion);
//                   a TemplateProcessing that starts with a special token names the BOS when nothing else does.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/added_tokens.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace rlhf {

class BpeTokenizer : public Tokenizer {
 public:
  // The parts of a byte-level BPE tokenizer, as a loader or the trainer assembles them.
  struct Parts {
    std::vector<std::pair<std::string, int64_t>> vocab;         // byte-level token spelling -> id
    std::vector<std::pair<std::string, std::string>> merges;  // in rank order, byte-level spellings
    std::vector<AddedToken> added_tokens;
    Normalizer normalizer;
    PreTokenizer pre_tokenizer = PreTokenizer::byte_level(false);
    bool ignore_merges = false;
    std::optional<std::string> unk_token;
    bool fuse_unk = false;
    nlohmann::ordered_json post_processor;  // null when none
  };

  // `where` is the file the parts came from (for errors). Validates merges against the vocab.
  BpeTokenizer(Parts parts, const std::string& where);

  // A tokenizer.json (HF tokenizers' format).
  static std::unique_ptr<BpeTokenizer> from_json_file(const std::string& path);
  static std::unique_ptr<BpeTokenizer> from_json_text(const std::string& text, const std::string& where);
  // GPT-2's vocab.json + merges.txt: ByteLevel(add_prefix_space=false), "<|endoftext|>" as special token when in the vocab.
  static std::unique_ptr<BpeTokenizer> from_vocab_merges(const std::string& vocab_path, const std::string& merges_path);

  // The tokenizer.json text (HF tokenizers loads it) and a helper that writes it atomically.
  std::string to_json() const;
  void save(const std::string& path) const;
  // A tokenizer folder: tokenizer.json plus a tokenizer_config.json naming bos/eos/pad, which load_tokenizer and
  // transformers' AutoTokenizer (PreTrainedTokenizerFast) both read. Creates `dir` if needed.
  void save_pretrained(const std::string& dir) const;

  // Tokenizer interface.
  std::vector<int64_t> encode(const std::string& text, bool add_bos = false) const override;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const override;
  std::string decode_bytes(const std::vector<int64_t>& ids, bool skip_special = false) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(tokens_.size()); }  // largest id + 1
  int64_t token_to_id(const std::string& token) const override;
  std::string id_to_token(int64_t id) const override;
  int64_t bos_id() const override { return bos_id_; }
  int64_t eos_id() const override { return eos_id_; }
  int64_t pad_id() const override { return pad_id_; }
  std::string kind() const override { return "bpe"; }
  bool is_special(int64_t id) const override;

  void set_special_ids(int64_t bos, int64_t eos, int64_t pad) { bos_id_ = bos, eos_id_ = eos, pad_id_ = pad; }

  // For exporters (GGUF tokenizer metadata): merges in rank order, added tokens.
  const std::vector<std::pair<std::string, std::string>>& merges() const { return merge_list_; }
  const std::vector<AddedToken>& added_tokens() const { return added_tokens_; }

 private:
  void encode_ordinary(const std::string& text, size_t begin, size_t end, std::vector<int64_t>* ids) const;
  void encode_piece(const std::string& piece, std::vector<int64_t>* ids) const;
  void merge_word(const std::string& piece, std::vector<int32_t>* out) const;

  std::vector<std::string> tokens_;         // id -> byte-level spelling ("" where no token has that id)
  std::vector<std::string> token_bytes_;    // id -> decoded bytes
  std::vector<char> special_;               // id -> special added token
  std::unordered_map<std::string, int32_t> vocab_;        // byte-level spelling -> id (model vocab + added tokens)
  std::unordered_map<std::string, int32_t> model_vocab_;  // the model's own vocab (what tokenizer.json's model holds)
  std::unordered_map<std::string, int32_t> bytes_vocab_;  // raw bytes -> id, for ignore_merges
  std::array<int32_t, 256> byte_ids_{};                   // initial symbol of each byte (-1: none)
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (left, right) -> (rank, merged id)
  std::vector<std::pair<std::string, std::string>> merge_list_;
  std::vector<AddedToken> added_tokens_;
  AddedTokenMatcher raw_matcher_, normalized_matcher_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  nlohmann::ordered_json post_processor_;
  bool ignore_merges_ = false, fuse_unk_ = false;
  std::optional<std::string> unk_token_;
  int32_t unk_id_ = -1;
  int64_t bos_id_ = -1, eos_id_ = -1, pad_id_ = -1;

  // Piece -> ids. Most words repeat, so this skips most merging (HF keeps the same kind of cache).
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace rlhf
