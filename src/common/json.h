// JSON files and texts, parsed or failed with where they came from: every "parse this file or fail" goes through here.
// Json = nlohmann::ordered_json keeps the keys in the file's order (files rewritten for people, as an export's).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "common/files.h"

namespace rlhf {

// The JSON value in `text`; an rlhf::Error "WHERE: expected valid JSON, found <the parser's message>" when it is not.
template <typename Json = nlohmann::json>
Json parse_json(const std::string& text, const std::string& where) {
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(where, "valid JSON", e.what());
  }
}

// The same for the file at `path` (read_file's error when it cannot be read).
template <typename Json = nlohmann::json>
Json read_json(const std::string& path) {
  return parse_json<Json>(read_file(path), path);
}

}  // namespace rlhf
