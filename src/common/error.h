// One error type for everything a user can cause: a message that says where (file:line), what was expected, what was found.
#pragma once
#include <stdexcept>
#include <string>

namespace rlhf {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// "where: expected X, found Y" — `where` is usually "path:line" or "path".
[[noreturn]] void fail(const std::string& where, const std::string& expected, const std::string& found);
[[noreturn]] void fail(const std::string& message);

// Check a user-facing condition (never compiled out, unlike assert).
inline void check(bool ok, const std::string& message) {
  if (!ok) fail(message);
}

}  // namespace rlhf
