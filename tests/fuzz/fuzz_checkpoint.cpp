// A training checkpoint as a resume checks it (io/checkpoint_state.h): the bytes before the first NUL as state.json,
// the bytes after it as the checkpoint's modules.safetensors, for a run training a Linear(3, 2) with AdamW and one
// sampling generator. An accepted state.json holds whole, non-negative counters and optimizer steps from 1 under the
// run's keys; an accepted tensor has the dtype and shape the run reads it as, and its bytes inside the file.
#include <cmath>
#include <cstring>
#include <vector>

#include "common/json.h"
#include "fuzz_util.h"
#include "io/checkpoint_state.h"

using namespace rlhf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t state_size = nul ? static_cast<size_t>(nul - data) : size;
  fuzz::accepts([&] {
    const nlohmann::json state =
        parse_json(std::string_view(reinterpret_cast<const char*>(data), state_size), "state.json");
    check_checkpoint_state(state, "state.json", {"epoch", "micro_batch"}, {"optimizer/0", "optimizer/1"});
    for (const char* key : {"step", "epoch", "micro_batch"}) {
      const double value = state[key].get<double>();
      FUZZ_EXPECT(value >= 0 && value == std::floor(value) && value <= 9007199254740992.0);
    }
    for (const auto& [key, value] : state.items())
      if (key != "optimizer_steps") FUZZ_EXPECT(value.is_number() && std::isfinite(value.get<double>()));
    for (const auto& [key, value] : state["optimizer_steps"].items())
      FUZZ_EXPECT((key == "optimizer/0" || key == "optimizer/1") && value.get<int64_t>() >= 1);
  });
  if (!nul) return 0;
  fuzz::MemoryFile file(nul + 1, size - state_size - 1);
  fuzz::accepts([&] {
    const SafetensorsFile modules(file.path());
    const std::vector<int64_t> weight = {2, 3}, bias = {2};
    struct Expected {
      const char* name;
      DType dtype;
      const std::vector<int64_t>* shape;  // null: a generator state
    };
    for (const Expected& e : {Expected{"model/weight", DType::F32, &weight}, Expected{"model/bias", DType::F32, &bias},
                              Expected{"optimizer/0/exp_avg", DType::F32, &weight},
                              Expected{"generator/sampling", DType::U8, nullptr}}) {
      const TensorInfo* info = modules.find(e.name);
      if (!info || !fuzz::accepts([&] { check_checkpoint_tensor(*info, e.name, e.dtype, e.shape); })) continue;
      FUZZ_EXPECT(info->dtype == e.dtype && (e.shape ? info->shape == *e.shape : info->shape.size() == 1));
      const uint64_t bytes = info->end - info->begin;
      FUZZ_EXPECT(bytes / dtype_size(e.dtype) == static_cast<uint64_t>(info->numel()) && bytes % dtype_size(e.dtype) == 0);
      uint64_t checksum = 0;
      const unsigned char* p = modules.data(*info);
      for (uint64_t i = 0; i < bytes; ++i) checksum += p[i];  // what from_blob reads: out of the map, a crash
      (void)checksum;
    }
  });
  return 0;
}
