// GPT-2's byte-level alphabet: every byte 0..255 is shown as one printable Unicode character so that BPE vocabularies
// (vocab.json, tokenizer.json) can hold arbitrary bytes as JSON strings. Printable Latin-1 bytes stand for themselves;
// the others (control bytes, space, 0x7F..0xA0, 0xAD) map to U+0100 onwards in byte order ("Ġ" is the space byte).
#pragma once
#include <cstdint>
#include <string>

namespace rlhf::byte_level {

// The character (as UTF-8) that stands for `byte`.
const std::string& char_for_byte(unsigned char byte);

// Maps raw bytes to their byte-level characters ("hi there" -> "hiĠthere").
std::string encode(const std::string& bytes);

// Maps a byte-level token back to raw bytes. Returns false (leaving `out` unspecified) when the token holds a character
// outside the 256-character alphabet; HF's ByteLevel decoder then uses the token's own UTF-8 bytes instead.
bool decode(const std::string& token, std::string* out);

}  // namespace rlhf::byte_level
