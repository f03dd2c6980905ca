#include "tokenizer/byte_level.h"

#include <array>
#include <unordered_map>

#include "tokenizer/utf8.h"

namespace rlhf::byte_level {

namespace {

struct Tables {
  std::array<std::string, 256> char_of_byte;
  std::unordered_map<uint32_t, unsigned char> byte_of_codepoint;

  Tables() {
    // Bytes that are printable and not whitespace keep their Latin-1 code point; the rest are numbered from U+0100.
    auto keeps_itself = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      uint32_t codepoint = keeps_itself(b) ? static_cast<uint32_t>(b) : next++;
      utf8::append(char_of_byte[b], codepoint);
      byte_of_codepoint[codepoint] = static_cast<unsigned char>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::string& char_for_byte(unsigned char byte) { return tables().char_of_byte[byte]; }

std::string encode(const std::string& bytes) {
  const Tables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += t.char_of_byte[b];
  return out;
}

bool decode(const std::string& token, std::string* out) {
  const Tables& t = tables();
  out->clear();
  for (size_t i = 0; i < token.size();) {
    size_t n = utf8::sequence_length(token, i);
    if (n == 0) return false;
    auto it = t.byte_of_codepoint.find(utf8::decode_at(token, i));
    if (it == t.byte_of_codepoint.end()) return false;
    *out += static_cast<char>(it->second);
    i += n;
  }
  return true;
}

}  // namespace rlhf::byte_level
