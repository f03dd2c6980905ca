// SentencePiece tokenizer.model (Llama-2, TinyLlama, Mistral style; BPE and unigram models) through libsentencepiece.
//
// Encoding is SentencePiece's own, except that control and unknown pieces written literally in the text ("<s>", "</s>",
// "<unk>") and added tokens from the model directory are matched as single tokens first, as HF's Llama tokenizers do;
// each stretch of text between them is encoded by SentencePiece on its own (so it gets the dummy-prefix "▁": HF's
// legacy=True behaviour), or, after set_legacy(false) (tokenizer_config.json's "legacy": false), as HF's
// LlamaTokenizer(legacy=False) encodes: one "▁" before the whole text, none after a special token. Decoding follows SentencePiece's rules (▁ -> space, the first leading space dropped, byte
// pieces <0xNN> -> bytes, the unknown piece -> " ⁇ "), with control pieces written out unless skip_special.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/tokenizer.h"

namespace sentencepiece { class SentencePieceProcessor; }

namespace rlhf {

class SentencePieceTokenizer : public Tokenizer {
 public:
  static std::unique_ptr<SentencePieceTokenizer> from_file(const std::string& path);
  // `serialized` is the content of a tokenizer.model (a ModelProto); `where` names it for errors.
  static std::unique_ptr<SentencePieceTokenizer> from_serialized(const std::string& serialized, const std::string& where);
  ~SentencePieceTokenizer() override;

  // Tokens a model directory adds on top of the .model (tokenizer_config.json's added_tokens_decoder, added_tokens.json).
  // Ids already naming the same piece are only marked; new ids extend the vocabulary.
  void add_tokens(const std::vector<AddedToken>& tokens);
  void set_special_ids(int64_t bos, int64_t eos, int64_t pad) { bos_id_ = bos, eos_id_ = eos, pad_id_ = pad; }
  // false: HF's legacy=False encoding (above). An rlhf::Error when the model's normalizer cannot be read.
  void set_legacy(bool legacy);

  std::vector<int64_t> encode(const std::string& text, bool add_bos = false) const override;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const override;
  std::string decode_bytes(const std::vector<int64_t>& ids, bool skip_special = false) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }
  int64_t token_to_id(const std::string& token) const override;
  std::string id_to_token(int64_t id) const override;
  int64_t bos_id() const override { return bos_id_; }
  int64_t eos_id() const override { return eos_id_; }
  int64_t pad_id() const override { return pad_id_; }
  std::string kind() const override { return "sentencepiece"; }
  bool is_special(int64_t id) const override;

  // For exporters (GGUF tokenizer.ggml.*): each piece's score and SentencePiece type
  // (1 normal, 2 unknown, 3 control, 5 unused, 6 byte; the .model's user-defined pieces report 1, as the library's
  // public API does not tell them apart; added tokens report 4, or 3 when special).
  float score(int64_t id) const;
  int piece_type(int64_t id) const;

 private:
  SentencePieceTokenizer() = default;
  void rebuild_matcher();
  std::vector<int64_t> encode_without_legacy(const std::string& text, bool add_bos) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> plain_processor_;  // no dummy prefix (legacy false)
  std::string serialized_;  // the .model, for the processor above
  bool legacy_ = true;
  size_t unk_pieces_ = 0;   // pieces of the unknown piece's text, without a dummy prefix
  std::string where_;
  int sp_size_ = 0;                  // pieces in the .model; ids at or above are added tokens
  std::vector<std::string> pieces_;  // id -> piece (or added token content)
  std::vector<std::string> surface_; // id -> decoded bytes (before the leading-space rule)
  std::vector<char> kind_;           // id -> 'n' normal, 'c' control, 'u' unknown, 'b' byte, 'a' added, 's' added special
  std::vector<AddedToken> added_;
  AddedTokenMatcher matcher_;
  bool strip_leading_space_ = true;  // SentencePiece drops the dummy-prefix space of the first piece
  int64_t bos_id_ = -1, eos_id_ = -1, pad_id_ = -1;
};

}  // namespace rlhf
