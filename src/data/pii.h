// Finding personal information in free text: email addresses, phone numbers, card-like numbers (Luhn-checked, so an
// order number of the same shape is left alone), street addresses and IP addresses (v4, and v6 validated by
// inet_pton). Used by `rlhf data curate` to redact or drop prompts; PCRE2 does the matching.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace rlhf::data {

struct PiiMatch {
  std::string kind;  // email, phone, card, address, ip
  size_t begin = 0, end = 0;  // byte offsets, [begin, end)
};

// Non-overlapping matches in text order. When patterns overlap, the more specific kind wins
// (email > card > ip > phone > address).
std::vector<PiiMatch> find_pii(const std::string& text);

// Replaces each match with its placeholder: [EMAIL], [PHONE], [CARD], [ADDRESS], [IP].
std::string redact_pii(const std::string& text, const std::vector<PiiMatch>& matches);
std::string pii_placeholder(const std::string& kind);

// The Luhn checksum over the digits of `number` (spaces and dashes ignored); false for fewer than 2 digits or any
// other character.
bool luhn_valid(const std::string& number);

}  // namespace rlhf::data
