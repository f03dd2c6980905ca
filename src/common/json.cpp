#include "common/json.h"

#include "common/error.h"
#include "common/files.h"

namespace rlhf {

nlohmann::json parse_json(const std::string& text, const std::string& where) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(where, "valid JSON", e.what());
  }
}

nlohmann::json read_json(const std::string& path) { return parse_json(read_file(path), path); }

nlohmann::ordered_json read_ordered_json(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, "valid JSON", e.what());
  }
}

}  // namespace rlhf
