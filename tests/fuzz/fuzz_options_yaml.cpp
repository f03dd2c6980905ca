// YAML config loader (common/options.h, --config FILE): any bytes as a YAML file over options of every field type.
#include "common/options.h"
#include "fuzz_util.h"

using namespace rlhf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::MemoryFile file(data, size);
  int small = 0;
  int64_t steps = 0;
  double rate = 0;
  float ratio = 0;
  bool flag = false;
  std::string name;
  Options options;
  options.add("num_train_epochs", &small, "int");
  options.add("max_steps", &steps, "int64");
  options.add("learning_rate", &rate, "double");
  options.add("warmup_ratio", &ratio, "float");
  options.add("quiet", &flag, "bool");
  options.add("output_dir", &name, "string");
  fuzz::accepts([&] {
    options.load_yaml(file.path());
    FUZZ_EXPECT(!options.to_json().empty());
    options.reapply_given();
  });
  return 0;
}
