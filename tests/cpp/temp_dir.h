// A fresh folder per test and process (several people may run the tests at once), removed when the test ends.
// remove_tree, not std::filesystem::remove_all: common/files.h says why.
#pragma once
#include <filesystem>
#include <string>
#include <unistd.h>

#include "common/files.h"

namespace rlhf {

struct TempDir {
  std::filesystem::path path;
  // `suite` and `name` make the folder's name: rlhf-test-SUITE-NAME-PID under the system's temporary folder.
  TempDir(const std::string& suite, const std::string& name) {
    path = std::filesystem::temp_directory_path() /
           ("rlhf-test-" + suite + "-" + name + "-" + std::to_string(::getpid()));
    remove_tree(path.string());
    std::filesystem::create_directories(path);
  }
  ~TempDir() { remove_tree(path.string()); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

}  // namespace rlhf
