#include <algorithm>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace rlhf {

// The decoder re-decodes a short window of ids (those whose bytes are not all out yet, plus one id of context so that a
// SentencePiece piece keeps its leading space) and emits the new bytes up to the last complete character.
std::string StreamDecoder::push(int64_t id) {
  ids_.push_back(id);
  std::string bytes = tokenizer_.decode_bytes(ids_, skip_special_);
  if (bytes.size() < emitted_bytes_) {  // the window decoded shorter than before: start over from this id
    ids_.assign(1, id);
    emitted_bytes_ = 0;
    bytes = tokenizer_.decode_bytes(ids_, skip_special_);
  }
  size_t ready = bytes.size() - utf8::incomplete_tail(bytes);
  std::string out;
  if (ready > emitted_bytes_) out = utf8::to_valid(bytes.substr(emitted_bytes_, ready - emitted_bytes_));
  emitted_bytes_ = std::max(emitted_bytes_, ready);
  if (emitted_bytes_ == bytes.size() && ids_.size() > 1) {
    // Everything is out: keep only the last id as context.
    ids_.erase(ids_.begin(), ids_.end() - 1);
    emitted_bytes_ = tokenizer_.decode_bytes(ids_, skip_special_).size();
  }
  return out;
}

std::string StreamDecoder::flush() {
  std::string bytes = tokenizer_.decode_bytes(ids_, skip_special_);
  std::string out = bytes.size() > emitted_bytes_ ? utf8::to_valid(bytes.substr(emitted_bytes_)) : std::string();
  ids_.clear();
  emitted_bytes_ = 0;
  return out;
}

}  // namespace rlhf
