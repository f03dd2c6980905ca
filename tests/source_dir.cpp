#include "source_dir.h"

namespace rlhf::test {
const char* source_dir() { return RLHF_SOURCE_DIR; }
}  // namespace rlhf::test
