// UTF-8 helpers shared by the tokenizers: validation, lossy repair, and the "is the tail an unfinished character" test
// the stream decoder needs. No torch, no ICU.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rlhf::utf8 {

// Length of the well-formed UTF-8 sequence starting at s[i] (1..4), or 0 when the bytes there are not one
// (bad lead byte, bad continuation, overlong form, surrogate, above U+10FFFF, or cut off by the end of the string).
size_t sequence_length(const std::string& s, size_t i);

// Byte offset of the first ill-formed byte, or std::string::npos when `s` is entirely valid UTF-8.
size_t first_invalid(const std::string& s);

// Throws rlhf::Error "<where>: expected valid UTF-8, found an invalid byte 0xNN at byte offset K".
void require_valid(const std::string& s, const std::string& where);

// Replaces every ill-formed sequence with U+FFFD using the "maximal subpart" rule of the Unicode standard (§3.9), which is
// what Rust's String::from_utf8_lossy and Python's bytes.decode("utf-8", "replace") do: HF tokenizers' decode output.
std::string to_valid(const std::string& bytes);

// Number of bytes at the end of `bytes` that are a proper prefix of a well-formed sequence (a character cut in the
// middle, which more bytes could still complete): 0..3.
size_t incomplete_tail(const std::string& bytes);

// Appends the UTF-8 encoding of `codepoint` (assumed valid).
void append(std::string& out, uint32_t codepoint);

// Decodes the well-formed character at s[i] (requires sequence_length(s, i) > 0).
uint32_t decode_at(const std::string& s, size_t i);

}  // namespace rlhf::utf8
