#include "bench/measure.h"

#include <sys/resource.h>
#include <torch/torch.h>
#include <ATen/cpu/Utils.h>
#ifdef RLHF_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/cpu_features.h"

namespace rlhf::bench {

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::vector<double> time_repeats(int64_t warmup, int64_t repeats, const std::function<void()>& work,
                                 const std::string& device) {
  for (int64_t i = 0; i < warmup; ++i) work();
  synchronize(device);
  std::vector<double> seconds;
  for (int64_t i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    synchronize(device);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return seconds;
}

namespace {
// A "Key:   value kB" line of /proc/self/status, in bytes; -1 when absent.
int64_t status_kb(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    int64_t kb = -1;
    fields >> kb;
    return kb < 0 ? -1 : kb * 1024;
  }
  return -1;
}
}  // namespace

int64_t peak_rss_bytes() {
  const int64_t hwm = status_kb("VmHWM");
  if (hwm >= 0) return hwm;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

bool is_gpu(const std::string& device) { return device.rfind("cuda", 0) == 0; }

void synchronize(const std::string& device) {
  if (!is_gpu(device)) return;
  const torch::Device d(device);
  torch::cuda::synchronize(d.has_index() ? d.index() : -1);  // -1: the current device
}

#ifdef RLHF_WITH_CUDA
namespace {
c10::DeviceIndex gpu_index(const std::string& device) {
  const torch::Device d(device);
  return d.has_index() ? d.index() : c10::cuda::current_device();
}
constexpr size_t kAllPools = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
}  // namespace
#endif

bool reset_peak_memory(const std::string& device) {
  if (!is_gpu(device)) return reset_peak_rss();
#ifdef RLHF_WITH_CUDA
  synchronize(device);
  c10::cuda::CUDACachingAllocator::resetPeakStats(gpu_index(device));
  return true;
#else
  return false;
#endif
}

int64_t peak_memory_bytes(const std::string& device) {
  if (!is_gpu(device)) return peak_rss_bytes();
#ifdef RLHF_WITH_CUDA
  synchronize(device);
  return c10::cuda::CUDACachingAllocator::getDeviceStats(gpu_index(device)).allocated_bytes[kAllPools].peak;
#else
  return 0;
#endif
}

const char* peak_memory_kind(const std::string& device) {
  return is_gpu(device) ? "cuda_peak_allocated" : "peak_rss";
}
const char* peak_memory_column(const std::string& device) { return is_gpu(device) ? "peak GPU MB" : "peak RSS MB"; }

CpuInfo cpu_info() {
  const auto& cpu = cpu_features();
  CpuInfo info;
  info.model_name = cpu.model;
  info.threads = at::get_num_threads();
  info.avx512 = cpu.avx512();
  info.bf16_native = cpu.bf16_native();
  info.cpu_isa_cap = cpu.cap;
  if (info.model_name.empty()) {
    auto capabilities = at::cpu::get_cpu_capabilities();
    auto it = capabilities.find("name");
    if (it != capabilities.end() && it->second.isString()) info.model_name = it->second.toStringRef();
  }
  info.description = cpu.describe();
  if (cpu.model.empty()) info.description = info.model_name + info.description.substr(std::string("unknown CPU").size());
  return info;
}

}  // namespace rlhf::bench
