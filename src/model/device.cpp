#include "model/device.h"

#include <ATen/detail/CUDAHooksInterface.h>

#include "common/error.h"

namespace rlhf {

torch::Device pick_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) == 0 && !torch::cuda::is_available())
    fail("device", "a CUDA device (none is available here)", "'" + name + "'");
  try {
    return torch::Device(name);
  } catch (const c10::Error&) {
    fail("device", "auto, cpu, cuda or cuda:N", "'" + name + "'");
  }
}

at::Generator seeded_generator(torch::Device device, uint64_t seed) {
  at::Generator generator = device.is_cuda()
                                ? at::detail::getCUDAHooks().getNewGenerator(device.has_index() ? device.index() : -1)
                                : at::make_generator<at::CPUGeneratorImpl>(seed);
  generator.set_current_seed(seed);
  return generator;
}

}  // namespace rlhf
