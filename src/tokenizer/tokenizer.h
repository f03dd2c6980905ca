// The tokenizer interface every stage uses. Implementations: byte-level BPE (tokenizer.json, or GPT-2's vocab.json +
// merges.txt) and SentencePiece (tokenizer.model). No torch here.
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
  virtual std::vector<int64_t> encode(const std::string& text, bool add_bos = false) const = 0;
  // Ids -> text (special tokens included unless skip_special).
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t token_to_id(const std::string& token) const = 0;  // -1 when absent
  virtual std::string id_to_token(int64_t id) const = 0;
  virtual int64_t bos_id() const = 0;  // -1 when none
  virtual int64_t eos_id() const = 0;
  virtual int64_t pad_id() const = 0;
  virtual std::string kind() const = 0;  // "bpe" or "sentencepiece"
};

// PATH is a tokenizer.json, a folder with vocab.json + merges.txt, a tokenizer.model, or a model directory holding one of
// them (tokenizer_config.json, when present, supplies bos/eos/pad tokens).
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// Decodes a stream of ids piece by piece without ever emitting broken UTF-8: bytes of a character split across tokens
// are held back until the character is complete.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  std::string push(int64_t id);  // the text that became printable with this id (maybe "")
  std::string flush();            // whatever remains (invalid bytes as U+FFFD)

 private:
  const Tokenizer& tokenizer_;
  std::vector<int64_t> ids_;
  size_t emitted_bytes_ = 0;
};

}  // namespace rlhf
