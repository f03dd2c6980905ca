// The source tree's root, for tests that read files in it (or ../shared beside it). Compiled into one small object of
// its own (tests/source_dir.cpp, CMakeLists.txt), so that no other test object holds this clone's path: ccache then
// shares them between clones and build folders, where a path in every object made each one a miss.
#pragma once

namespace rlhf::test {
const char* source_dir();
}  // namespace rlhf::test
