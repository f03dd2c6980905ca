#include "data/pii.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <pcre2.h>

#include <algorithm>
#include <memory>

#include "common/error.h"

namespace rlhf::data {

namespace {

// A compiled PCRE2 pattern (JIT when available) that lists every match in a subject.
class Pattern {
 public:
  explicit Pattern(const char* pattern) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    // Byte mode on purpose: every pattern is ASCII, and prompts with invalid UTF-8 must still be scanned.
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED, 0, &error, &offset, nullptr);
    if (!code_) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      fail("PII pattern at offset " + std::to_string(offset), "a valid regular expression",
           reinterpret_cast<const char*>(message));
    }
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
  }
  ~Pattern() { pcre2_code_free(code_); }
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;

  std::vector<std::pair<size_t, size_t>> all(const std::string& text) const {
    std::vector<std::pair<size_t, size_t>> out;
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
        pcre2_match_data_create_from_pattern(code_, nullptr), pcre2_match_data_free);
    size_t start = 0;
    while (start <= text.size()) {
      int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start, 0, data.get(), nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) fail("PII matcher", "a successful match run", "PCRE2 error " + std::to_string(rc));
      PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data.get());
      size_t begin = ovector[0], end = ovector[1];
      out.emplace_back(begin, end);
      start = end > begin ? end : end + 1;
    }
    return out;
  }

 private:
  pcre2_code* code_ = nullptr;
};

const Pattern& email_pattern() {
  static const Pattern p(R"([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})");
  return p;
}
// 13 to 19 digits, optionally grouped by single spaces or dashes; the Luhn check decides.
const Pattern& card_pattern() {
  static const Pattern p(R"((?<![\d-])\d(?:[ -]?\d){12,18}(?!\d))");
  return p;
}
const Pattern& ipv4_pattern() {
  static const Pattern p(
      R"((?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\d|\.\d))");
  return p;
}
const Pattern& ipv6_pattern() {
  static const Pattern p(R"((?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:]))");
  return p;
}
// International (+CC ...), (555) 123-4567, and 555-123-4567 / 555.123.4567 with one consistent separator. Plain
// digit runs and space-grouped numbers without a country code are left alone (too many false positives).
const Pattern& phone_pattern() {
  static const Pattern p(
      R"((?<![\w+])(?:\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]\d{2,4}){2,3}|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\d{3}([.-])\d{3}\1\d{4})(?![\w]))");
  return p;
}
const Pattern& address_pattern() {
  static const Pattern p(
      R"(\b\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Boulevard|Blvd|Way|Court|Ct|Place|Terrace|Square)\b)");
  return p;
}

bool valid_ipv6(const std::string& candidate) {
  if (std::count(candidate.begin(), candidate.end(), ':') < 2) return false;
  unsigned char buffer[16];
  return inet_pton(AF_INET6, candidate.c_str(), buffer) == 1;
}

std::string digits_of(const std::string& text) {
  std::string out;
  for (char c : text)
    if (c >= '0' && c <= '9') out += c;
  return out;
}

}  // namespace

bool luhn_valid(const std::string& number) {
  std::string digits;
  for (char c : number) {
    if (c >= '0' && c <= '9') digits += c;
    else if (c != ' ' && c != '-') return false;
  }
  if (digits.size() < 2) return false;
  int sum = 0;
  bool twice = false;  // every second digit from the right is doubled
  for (auto it = digits.rbegin(); it != digits.rend(); ++it, twice = !twice) {
    int d = *it - '0';
    if (twice) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 == 0;
}

std::string pii_placeholder(const std::string& kind) {
  std::string upper;
  for (char c : kind) upper += static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  return "[" + upper + "]";
}

std::vector<PiiMatch> find_pii(const std::string& text) {
  std::vector<PiiMatch> found;
  auto overlaps = [&](size_t begin, size_t end) {
    for (const auto& m : found)
      if (begin < m.end && m.begin < end) return true;
    return false;
  };
  auto add = [&](const std::string& kind, size_t begin, size_t end) {
    if (!overlaps(begin, end)) found.push_back({kind, begin, end});
  };
  for (auto [b, e] : email_pattern().all(text)) add("email", b, e);
  for (auto [b, e] : card_pattern().all(text)) {
    std::string span = text.substr(b, e - b);
    size_t n = digits_of(span).size();
    if (n >= 13 && n <= 19 && luhn_valid(span)) add("card", b, e);
  }
  for (auto [b, e] : ipv6_pattern().all(text))
    if (valid_ipv6(text.substr(b, e - b))) add("ip", b, e);
  for (auto [b, e] : ipv4_pattern().all(text)) add("ip", b, e);
  for (auto [b, e] : phone_pattern().all(text)) add("phone", b, e);
  for (auto [b, e] : address_pattern().all(text)) add("address", b, e);
  std::sort(found.begin(), found.end(), [](const PiiMatch& a, const PiiMatch& b) { return a.begin < b.begin; });
  return found;
}

std::string redact_pii(const std::string& text, const std::vector<PiiMatch>& matches) {
  std::string out;
  size_t at = 0;
  for (const auto& m : matches) {
    if (m.begin < at || m.end > text.size() || m.begin > m.end)
      fail("redact_pii", "sorted, non-overlapping matches inside the text", "a match at " + std::to_string(m.begin));
    out += text.substr(at, m.begin - at) + pii_placeholder(m.kind);
    at = m.end;
  }
  return out + text.substr(at);
}

}  // namespace rlhf::data
