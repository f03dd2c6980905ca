// What the fuzz targets share. Each target feeds one parser bytes it never saw; an rlhf::Error is the expected answer to
// bad input and is caught, anything else (a crash, a sanitizer report, another exception escaping, a broken invariant)
// is a finding. Built as libFuzzer binaries (RLHF_FUZZ=ON) and as replays of tests/fuzz/{regressions,corpus} in ctest.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"

namespace rlhf::fuzz {

// An invariant the callers of a parser rely on: broken, it aborts (libFuzzer saves the input as a crash).
#define FUZZ_EXPECT(condition)                                                                          \
  do {                                                                                                  \
    if (!(condition)) {                                                                                 \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #condition);           \
      std::abort();                                                                                     \
    }                                                                                                   \
  } while (0)

// The input as a file in memory (memfd), for the readers that take a path; no disk writes per input.
class MemoryFile {
 public:
  MemoryFile(const uint8_t* data, size_t size) {
    fd_ = ::memfd_create("rlhf-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) std::perror("memfd_create"), std::abort();
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) std::perror("write"), std::abort();
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  explicit MemoryFile(const std::string& text)
      : MemoryFile(reinterpret_cast<const uint8_t*>(text.data()), text.size()) {}
  ~MemoryFile() { ::close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// Runs `body`; an rlhf::Error (bad input, reported) returns false, anything else propagates to the fuzzer.
template <typename Body>
bool accepts(Body&& body) {
  try {
    body();
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace rlhf::fuzz
