#include "common/json.h"

namespace rlhf {

std::string json_too_deep_at(std::string_view text) {
  // Over a valid prefix this depth is the parser's own (brackets inside strings do not count), and the parser never
  // reads past the first error, so it can never go deeper than the scan found.
  size_t depth = 0, line = 1, line_start = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      else if (c == '\n') ++line, line_start = i + 1;  // invalid in JSON, but the count stays right for the message
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '\n': ++line, line_start = i + 1; break;
      case '[':
      case '{':
        if (++depth > kMaxJsonDepth) {
          const std::string column = "column " + std::to_string(i - line_start + 1);
          return line == 1 ? column : "line " + std::to_string(line) + ", " + column;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return "";
}

void check_json_nesting(std::string_view text, const std::string& where) {
  const std::string at = json_too_deep_at(text);
  if (!at.empty())
    fail(where, "JSON nested at most " + std::to_string(kMaxJsonDepth) + " levels deep",
         "nesting deeper than " + std::to_string(kMaxJsonDepth) + " at " + at);
}

std::string utf8_prefix(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "…";
}

}  // namespace rlhf
