// Arrow IPC reader (io/formats/arrow_stream.h): any bytes as a .arrow file, every row read. Seeds: pyarrow's files of
// tests/data/arrow (make_seeds.py copies them). Accepted rows must be objects holding every column of the schema.
#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "io/formats/arrow_stream.h"

using namespace rlhf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::MemoryFile file(data, size);
  fuzz::accepts([&] {
    ArrowStreamReader reader(file.path());
    const std::string schema = reader.schema_description();
    nlohmann::json row;
    int64_t rows = 0;
    while (reader.next(row)) {
      FUZZ_EXPECT(row.is_object() && !row.empty());
      FUZZ_EXPECT(reader.row_index() == rows++);
      // Each column's name appears in the schema's description (no row holds a key the schema has not).
      for (auto it = row.begin(); it != row.end(); ++it) FUZZ_EXPECT(schema.find(it.key() + ": ") != std::string::npos);
    }
  });
  return 0;
}
