// Small measuring tools shared by the benchmarks: wall-clock repeats with medians, peak resident memory, the CPU.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rlhf::bench {

// The median of the values (the mean of the two middle ones for an even count); 0 for none.
double median(std::vector<double> values);

// Runs `work` `warmup` times untimed, then `repeats` times timed; returns the seconds of each timed run. On a GPU
// ("cuda", "cuda:N") each run ends when the device has finished the work it queued, not when the host has queued it.
std::vector<double> time_repeats(int64_t warmup, int64_t repeats, const std::function<void()>& work,
                                 const std::string& device = "cpu");

// Waits for the work queued on a GPU device; nothing for "cpu".
void synchronize(const std::string& device);
bool is_gpu(const std::string& device);

// A phase's peak memory on the device it ran on: the process's resident set on the CPU, the CUDA caching
// allocator's peak of allocated bytes on a GPU (what torch.cuda.max_memory_allocated reports). reset_peak_memory
// returns false where the peak cannot be reset; then the figure is the peak so far.
bool reset_peak_memory(const std::string& device);
int64_t peak_memory_bytes(const std::string& device);
// What that figure is, for the JSON ("peak_rss" | "cuda_peak_allocated") and a table's column header.
const char* peak_memory_kind(const std::string& device);
const char* peak_memory_column(const std::string& device);

// Peak resident set size of this process in bytes (VmHWM from /proc/self/status, getrusage where that is missing).
int64_t peak_rss_bytes();
// Resets the peak to the current resident size (Linux: "5" into /proc/self/clear_refs), so that a phase's peak can be
// read on its own. False where the kernel does not allow it; then peak_rss_bytes() is the process's peak so far.
bool reset_peak_rss();

// The CPU as every figure names it (common/cpu_features.h, a cap included).
struct CpuInfo {
  std::string model_name;   // /proc/cpuinfo "model name" (or torch's cpuinfo name)
  std::string description;  // model, AVX-512 yes/no, bf16 native yes/no (and the cap, if any)
  int64_t threads = 0;      // LibTorch's intra-op threads for this run
  bool avx512 = false;      // AVX-512 F/BW/VL/DQ
  bool bf16_native = false;  // AVX512-BF16 or AMX-BF16
  std::string cpu_isa_cap;  // RLHF_CPU_ISA / --cpu_isa in force ("" = none)
};
CpuInfo cpu_info();

}  // namespace rlhf::bench
