#include "common/cpu_features.h"

#include <cstdint>
#include <cstdlib>
#include <fstream>

#include "common/error.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#define RLHF_X86_CPUID 1
#endif

namespace rlhf {

namespace {

bool bit(uint32_t word, int index) { return (word >> index) & 1u; }

std::string model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    const auto start = colon == std::string::npos ? std::string::npos : line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

// cpuid's feature bits (Intel SDM vol. 2, CPUID leaves 1 and 7), each only where the OS saves the registers it needs
// (XCR0): a CPU with AVX-512 under an OS or hypervisor that does not enable ZMM state cannot run it.
CpuFeatures detect() {
  CpuFeatures f;
  f.model = model_name();
#ifdef RLHF_X86_CPUID
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = bit(ecx, 27), avx = bit(ecx, 28), fma = bit(ecx, 12);
  if (!osxsave || !avx) return f;
  uint32_t xcr0_low = 0, xcr0_high = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  const uint64_t xcr0 = (static_cast<uint64_t>(xcr0_high) << 32) | xcr0_low;
  const bool ymm_state = (xcr0 & 0x6) == 0x6;                    // SSE and AVX registers
  const bool zmm_state = ymm_state && (xcr0 & 0xe0) == 0xe0;     // opmask, upper ZMM0-15, ZMM16-31
  const bool tile_state = (xcr0 & 0x60000) == 0x60000;           // AMX tile config and data
  if (!ymm_state) return f;
  uint32_t leaf7_ebx = 0, leaf7_edx = 0, leaf7_1_eax = 0, leaf7_1_edx = 0, max_subleaf = 0;
  if (__get_cpuid_count(7, 0, &max_subleaf, &leaf7_ebx, &ecx, &leaf7_edx) == 0) return f;
  if (max_subleaf >= 1) __get_cpuid_count(7, 1, &leaf7_1_eax, &ebx, &ecx, &leaf7_1_edx);
  f.fma = fma;
  f.avx2 = bit(leaf7_ebx, 5);
  f.avx_ne_convert = bit(leaf7_1_edx, 5);
  if (zmm_state) {
    f.avx512f = bit(leaf7_ebx, 16);
    f.avx512dq = bit(leaf7_ebx, 17);
    f.avx512bw = bit(leaf7_ebx, 30);
    f.avx512vl = bit(leaf7_ebx, 31);
    f.avx512_bf16 = bit(leaf7_1_eax, 5);
  }
  f.amx_bf16 = tile_state && bit(leaf7_edx, 22);
#endif
  return f;
}

struct Level {
  const char* name;
  const char* onednn;  // ONEDNN_MAX_CPU_ISA
  const char* aten;    // ATEN_CPU_CAPABILITY
  const char* mkl;     // MKL_ENABLE_INSTRUCTIONS
};
// Widest first. avx512: AVX-512 without bf16 arithmetic or AMX (Skylake-SP, Cascade Lake); avx2: AVX2 + FMA (AMD Zen
// 1-3, Intel client CPUs); baseline: neither (the portable kernels).
const Level kLevels[] = {
    {"avx512", "AVX512_CORE", "avx512", "AVX512"},
    {"avx2", "AVX2", "avx2", "AVX2"},
    {"baseline", "SSE41", "default", "SSE4_2"},
};

// Hides what lies above `level`; whether that hid anything this CPU has.
bool hide_above(CpuFeatures& f, const std::string& level) {
  const CpuFeatures before = f;
  f.avx512_bf16 = f.amx_bf16 = f.avx_ne_convert = false;
  if (level != "avx512") f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = false;
  if (level == "baseline") f.avx2 = f.fma = false;
  return before.avx512_bf16 != f.avx512_bf16 || before.amx_bf16 != f.amx_bf16 ||
         before.avx_ne_convert != f.avx_ne_convert || before.avx512f != f.avx512f || before.avx2 != f.avx2;
}

bool capped_by_call = false;
bool libraries_capped = false;  // the three variables below were set by a cap of ours

CpuFeatures& features() {
  static CpuFeatures f = detect();
  return f;
}

void apply_cap(const std::string& level, const std::string& where) {
  const Level* chosen = nullptr;
  for (const auto& l : kLevels)
    if (level == l.name) chosen = &l;
  if (!chosen && level != "native")
    fail(where, "native, avx512, avx2 or baseline", "'" + level + "'");
  CpuFeatures& f = features();
  f = detect();
  if (chosen) f.cap = level;
  // Nothing hidden: the libraries' own choice is already this one (and ATen trusts its variable even where the CPU
  // lacks what it names).
  if (!chosen || !hide_above(f, level)) {
    if (libraries_capped)
      for (const char* name : {"ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS"}) unsetenv(name);
    libraries_capped = false;
    return;
  }
  setenv("ONEDNN_MAX_CPU_ISA", chosen->onednn, 1);
  setenv("ATEN_CPU_CAPABILITY", chosen->aten, 1);
  setenv("MKL_ENABLE_INSTRUCTIONS", chosen->mkl, 1);
  libraries_capped = true;
}

}  // namespace

std::string CpuFeatures::describe() const {
  std::string text = model.empty() ? "unknown CPU" : model;
  text += std::string(" (AVX-512: ") + (avx512() ? "yes" : "no") + ", bf16 native: " + (bf16_native() ? "yes" : "no");
  if (!cap.empty()) text += ", capped at " + cap;
  return text + ")";
}

const CpuFeatures& cpu_features() {
  static const bool from_environment = [] {
    const char* level = std::getenv("RLHF_CPU_ISA");
    if (!capped_by_call && level && *level) apply_cap(level, "RLHF_CPU_ISA");
    return true;
  }();
  (void)from_environment;
  return features();
}

void cap_cpu_isa(const std::string& level, const std::string& where) {
  capped_by_call = true;
  apply_cap(level, where);
}

namespace {
// RLHF_CPU_ISA applied while the program loads, before main and so before LibTorch's first product (test binaries
// have no main of ours). A wrong value is reported by the first call of cpu_features(), which tries again.
[[maybe_unused]] const bool applied_at_load = [] {
  try {
    cpu_features();
  } catch (const Error&) {
  }
  return true;
}();
}  // namespace

}  // namespace rlhf
