#include "model/device.h"

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

}  // namespace rlhf
