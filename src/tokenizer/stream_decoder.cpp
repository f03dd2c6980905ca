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
    // Everything is out: keep as context the shortest tail that decodes to something. After an id that decodes to
    // nothing (unknown, negative, a skipped special) a SentencePiece piece would otherwise lose its leading space as if
    // it began the text (found by fuzz_tokenizer_encode). A window that is empty throughout means nothing was emitted
    // yet, and then the next piece does begin the text.
    size_t keep = 1;
    while (keep < ids_.size() &&
           tokenizer_.decode_bytes(std::vector<int64_t>(ids_.end() - static_cast<std::ptrdiff_t>(keep), ids_.end()),
                                   skip_special_).empty())
      ++keep;
    if (bytes.empty()) keep = 1;
    ids_.erase(ids_.begin(), ids_.end() - static_cast<std::ptrdiff_t>(keep));
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
