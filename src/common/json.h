// JSON files and texts, parsed or failed with where they came from: every "parse this file or fail" goes through here.
// Json = nlohmann::ordered_json keeps the keys in the file's order (files rewritten for people, as an export's).
//
// Nesting is bounded at the door: nlohmann parses without recursion, but dump(), copies and comparisons recurse once
// per level, so a value nested 60,000 deep (a 150 KB file) overflowed the stack as soon as an error message printed
// it. Every text is scanned for its depth before it is parsed (check_json_nesting), and values printed in messages are
// cut short (json_excerpt).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/files.h"

namespace rlhf {

// Real files nest a few levels (tokenizer.json about 6); Python's json stops near 1000, serde_json at 128.
constexpr size_t kMaxJsonDepth = 256;

// Where `text` opens an array or object deeper than kMaxJsonDepth ("column C", or "line L, column C" past the first
// line), counting brackets outside strings without parsing; "" when it never does.
std::string json_too_deep_at(std::string_view text);
// An rlhf::Error "WHERE: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at ..." when
// `text` nests deeper than kMaxJsonDepth.
void check_json_nesting(std::string_view text, const std::string& where);

// The first `max_bytes` bytes of `text` cut at a UTF-8 character boundary, with "…" when something was cut.
std::string utf8_prefix(const std::string& text, size_t max_bytes);

// The JSON value in `text`; an rlhf::Error "WHERE: expected valid JSON, found <the parser's message>" when it is not,
// and check_json_nesting's when it nests too deep.
template <typename Json = nlohmann::json>
Json parse_json(std::string_view text, const std::string& where) {
  check_json_nesting(text, where);
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    fail(where, "valid JSON", e.what());
  }
}

// The same for the file at `path` (read_file's error when it cannot be read).
template <typename Json = nlohmann::json>
Json read_json(const std::string& path) {
  return parse_json<Json>(read_file(path), path);
}

// For texts read leniently (lines read back from our own logs, a format sniffed before the strict reader reports):
// the value, or a discarded one when `text` is not JSON or nests too deep.
template <typename Json = nlohmann::json>
Json parse_json_or_discarded(std::string_view text) {
  if (!json_too_deep_at(text).empty()) return Json(Json::value_t::discarded);
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

namespace detail {
template <typename Json>
void append_excerpt(const Json& value, size_t max_chars, std::string& out) {
  // Each level adds a bracket before it descends, so the recursion stops within max_chars levels whatever the value.
  if (out.size() > max_chars) return;
  if (value.is_array() || value.is_object()) {
    out += value.is_array() ? '[' : '{';
    bool first = true;
    for (auto it = value.begin(); it != value.end() && out.size() <= max_chars; ++it, first = false) {
      if (!first) out += ',';
      if (value.is_object()) append_excerpt(Json(it.key()), max_chars, out), out += ':';
      append_excerpt(*it, max_chars, out);
    }
    out += value.is_array() ? ']' : '}';
  } else if (value.is_string()) {
    // dump() escapes quotes and newlines (the message stays one line) and replaces invalid UTF-8.
    out += Json(utf8_prefix(value.template get_ref<const std::string&>(), max_chars))
               .dump(-1, ' ', false, Json::error_handler_t::replace);
  } else {
    out += value.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
}
}  // namespace detail

// `value` as compact JSON for an error message, at most about `max_chars` characters ("…" when cut): built piece by
// piece, so a megabyte or 60,000-level value costs no more than a short one.
template <typename Json>
std::string json_excerpt(const Json& value, size_t max_chars = 80) {
  std::string out;
  detail::append_excerpt(value, max_chars, out);
  return utf8_prefix(out, max_chars);
}

}  // namespace rlhf
