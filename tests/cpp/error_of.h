// The message of the rlhf::Error that `body` throws, "" when it throws none: tests check what the user is told.
// (Any other exception escapes, and the test fails on it.)
#pragma once
#include <string>

#include "common/error.h"

namespace rlhf {

template <class F>
std::string error_of(F body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace rlhf
