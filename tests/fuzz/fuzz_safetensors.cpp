// safetensors header reader (io/formats/safetensors.h): any bytes as a .safetensors file. Accepted files must keep the
// promises model loading relies on (torch::from_blob(data(t), t.shape) reads exactly the tensor's bytes).
#include <cstring>

#include "fuzz_util.h"
#include "io/formats/safetensors.h"

using namespace rlhf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::MemoryFile file(data, size);
  fuzz::accepts([&] {
    SafetensorsFile st(file.path());
    uint64_t header_length = 0;
    std::memcpy(&header_length, data, 8);  // accepted: at least 8 bytes, the header inside the file
    const uint64_t data_start = 8 + header_length;
    uint64_t checksum = 0;
    for (const auto& t : st.tensors()) {
      const uint64_t bytes = t.end - t.begin;
      FUZZ_EXPECT(t.begin <= t.end && data_start + t.end <= size);
      // In division form: a product could wrap around and agree by accident.
      const uint64_t numel = static_cast<uint64_t>(t.numel()), element = dtype_size(t.dtype);
      FUZZ_EXPECT(t.numel() >= 0 && bytes % element == 0 && bytes / element == numel);
      FUZZ_EXPECT(st.find(t.name) == &t || st.find(t.name)->begin == t.begin);
      const unsigned char* p = st.data(t);
      for (uint64_t i = 0; i < bytes; ++i) checksum += p[i];  // touches every byte (out of the map: a crash)
    }
    for (const auto& [key, value] : st.metadata()) checksum += key.size() + value.size();
    (void)checksum;
  });
  return 0;
}
