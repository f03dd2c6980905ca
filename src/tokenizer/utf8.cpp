#include "tokenizer/utf8.h"

#include <cstdio>

#include "common/error.h"

namespace rlhf::utf8 {

namespace {

// The well-formed byte sequences of UTF-8 (Unicode Table 3-7): the lead byte fixes the length and the allowed range of
// the second byte; later bytes are always 80..BF.
struct LeadInfo {
  int length;                 // 0: not a lead byte
  unsigned char second_low, second_high;
};

LeadInfo lead_info(unsigned char b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};  // excludes surrogates
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};  // stops at U+10FFFF
  return {0, 0, 0};
}

// How many bytes from s[i] form a (possibly incomplete) prefix of a well-formed sequence, and the length that sequence
// needs. A prefix shorter than `needed` that hit the end of the string is "incomplete"; one that hit a bad byte is invalid.
size_t valid_prefix(const std::string& s, size_t i, int* needed) {
  LeadInfo info = lead_info(static_cast<unsigned char>(s[i]));
  *needed = info.length;
  if (info.length == 0) return 0;
  size_t n = 1;
  for (; n < static_cast<size_t>(info.length) && i + n < s.size(); ++n) {
    auto b = static_cast<unsigned char>(s[i + n]);
    unsigned char low = n == 1 ? info.second_low : 0x80, high = n == 1 ? info.second_high : 0xBF;
    if (b < low || b > high) break;
  }
  return n;
}

}  // namespace

size_t sequence_length(const std::string& s, size_t i) {
  int needed = 0;
  size_t n = valid_prefix(s, i, &needed);
  return n == static_cast<size_t>(needed) && needed > 0 ? n : 0;
}

size_t first_invalid(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t n = sequence_length(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string::npos;
}

void require_valid(const std::string& s, const std::string& where) {
  size_t bad = first_invalid(s);
  if (bad == std::string::npos) return;
  char found[96];
  std::snprintf(found, sizeof found, "an invalid byte 0x%02X at byte offset %zu", static_cast<unsigned char>(s[bad]), bad);
  fail(where, "valid UTF-8", found);
}

std::string to_valid(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    int needed = 0;
    size_t n = valid_prefix(bytes, i, &needed);
    if (needed > 0 && n == static_cast<size_t>(needed)) {
      out.append(bytes, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD for the maximal subpart (at least one byte)
      i += n == 0 ? 1 : n;
    }
  }
  return out;
}

size_t incomplete_tail(const std::string& bytes) {
  // A character is at most 4 bytes, so only the last 3 bytes can start an unfinished one.
  size_t size = bytes.size();
  for (size_t back = 1; back <= 3 && back <= size; ++back) {
    size_t i = size - back;
    auto b = static_cast<unsigned char>(bytes[i]);
    if (b >= 0x80 && b <= 0xBF) continue;  // continuation byte: the lead is further back
    int needed = 0;
    size_t n = valid_prefix(bytes, i, &needed);
    return (needed > 1 && n == back && back < static_cast<size_t>(needed)) ? back : 0;
  }
  return 0;
}

void append(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

uint32_t decode_at(const std::string& s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k])); };
  uint32_t lead = b(0);
  if (lead < 0x80) return lead;
  if (lead < 0xE0) return ((lead & 0x1F) << 6) | (b(1) & 0x3F);
  if (lead < 0xF0) return ((lead & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  return ((lead & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

}  // namespace rlhf::utf8
