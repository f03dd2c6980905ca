// GGUF reader (io/formats/gguf.h): any bytes as a GGUF file, parsed in memory (parse_gguf) and through the memory map
// (GgufFile::to_float). Accepted headers must place every tensor inside the file with the size its type and dims imply.
#include "fuzz_util.h"
#include "io/formats/gguf.h"

using namespace rlhf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const bool parsed = fuzz::accepts([&] {
    GgufHeader header = parse_gguf(data, size, "fuzz.gguf");
    FUZZ_EXPECT(header.alignment > 0 && header.data_offset % header.alignment == 0);
    for (const auto& t : header.tensors) {
      FUZZ_EXPECT(t.nbytes == ggml_nbytes(t.type, t.dims));
      FUZZ_EXPECT(header.data_offset + t.offset + t.nbytes <= size);
    }
    size_t described = 0;
    for (const auto& [key, value] : header.metadata) {
      described += value.describe().size();
      if (value.is_array()) FUZZ_EXPECT(value.array_size() <= size);
    }
    (void)described;
  });
  if (!parsed) return 0;
  fuzz::MemoryFile file(data, size);
  fuzz::accepts([&] {
    GgufFile gguf(file.path());
    for (const auto& t : gguf.tensors()) {
      if (t.numel() > (1u << 20)) continue;  // keeps each input fast; the size checks above cover big tensors
      fuzz::accepts([&] {
        auto values = gguf.to_float(t);
        FUZZ_EXPECT(values.size() == t.numel());
      });
    }
  });
  return 0;
}
