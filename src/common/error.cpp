#include "common/error.h"

namespace rlhf {

void fail(const std::string& where, const std::string& expected, const std::string& found) {
  throw Error(where + ": expected " + expected + ", found " + found);
}

void fail(const std::string& message) { throw Error(message); }

}  // namespace rlhf
