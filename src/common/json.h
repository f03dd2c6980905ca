// JSON files and texts, parsed or failed with where they came from: every "parse this file or fail" goes through here.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace rlhf {

// The JSON value in `text`; an rlhf::Error "WHERE: expected valid JSON, found <the parser's message>" when it is not.
nlohmann::json parse_json(const std::string& text, const std::string& where);
// The same for the file at `path` (read_file's error when it cannot be read).
nlohmann::json read_json(const std::string& path);
// Keys in the file's order (files that are rewritten for people: an export's config.json, tokenizer_config.json).
nlohmann::ordered_json read_ordered_json(const std::string& path);

}  // namespace rlhf
