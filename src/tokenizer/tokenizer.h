// The tokenizer interface every stage uses. Implementations: byte-level BPE (tokenizer.json, or GPT-2's vocab.json +
// merges.txt; bpe.h) and SentencePiece (tokenizer.model; sentencepiece_tokenizer.h). No torch here.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rlhf {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Text -> ids. Special/added tokens written literally in `text` are matched as single tokens. BOS is prepended only
  // when `add_bos` is true and the tokenizer has one (HF's post-processor behaviour is not applied implicitly).
  // Text that is not valid UTF-8 is an rlhf::Error.
  virtual std::vector<int64_t> encode(const std::string& text, bool add_bos = false) const = 0;
  // Ids -> text (special tokens included unless skip_special). Always valid UTF-8: byte sequences that do not form
  // characters become U+FFFD, as HF does. Ids that name no token decode to nothing (as HF).
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const = 0;
  // Ids -> the raw bytes they stand for, possibly ill-formed UTF-8 (a character split across tokens). decode() is
  // utf8::to_valid(decode_bytes()). The default implementation returns decode().
  virtual std::string decode_bytes(const std::vector<int64_t>& ids, bool skip_special = false) const {
    return decode(ids, skip_special);
  }
  virtual int64_t vocab_size() const = 0;  // largest id + 1 (the embedding rows a model needs)
  virtual int64_t token_to_id(const std::string& token) const = 0;  // -1 when absent
  virtual std::string id_to_token(int64_t id) const = 0;            // "" when no token has that id
  virtual int64_t bos_id() const = 0;  // -1 when none
  virtual int64_t eos_id() const = 0;
  virtual int64_t pad_id() const = 0;
  virtual std::string kind() const = 0;  // "bpe" or "sentencepiece"
  virtual bool is_special(int64_t id) const { return id >= 0 && (id == bos_id() || id == eos_id() || id == pad_id()); }
};

// PATH is a tokenizer.json, a folder with vocab.json + merges.txt, a tokenizer.model, or a model directory holding one of
// them (tokenizer_config.json, when present, supplies bos/eos/pad tokens; special_tokens_map.json too). In a directory
// that holds both, tokenizer.json is used, unless it is refused (an unsupported feature, as in Llama-2's
// SentencePiece-converted tokenizer.json) and a tokenizer.model is there to use instead.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// Decodes a stream of ids piece by piece without ever emitting broken UTF-8: bytes of a character split across tokens
// are held back until the character is complete. Concatenating every push() and the final flush() gives decode(ids).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tokenizer_(tokenizer), skip_special_(skip_special) {}
  std::string push(int64_t id);  // the text that became printable with this id (maybe "")
  std::string flush();            // whatever remains (invalid bytes as U+FFFD)

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_ = false;
  std::vector<int64_t> ids_;  // the ids whose bytes are not all emitted yet (plus one id of context)
  size_t emitted_bytes_ = 0;  // bytes of decode_bytes(ids_) already emitted
};

}  // namespace rlhf
