// cpu_features() against the kernel's own reading of cpuid (/proc/cpuinfo's flags, which also drop what the OS does not
// enable), and the cap: what it hides, the variables it hands to oneDNN, ATen and MKL, and a wrong level's error.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "../error_of.h"
#include "common/cpu_features.h"

namespace rlhf {
namespace {

std::set<std::string> kernel_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    return {std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
  }
  return {};
}

std::string variable(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "(unset)";
}

TEST(CpuFeatures, AgreeWithTheKernelsFlagsBelowTheCap) {
  const auto flags = kernel_flags();
#if !defined(__x86_64__)
  GTEST_SKIP() << "not an x86-64 CPU: no cpuid flags to compare";
#endif
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags line on this system";
  const auto& cpu = cpu_features();
  std::printf("%s\n", cpu.describe().c_str());
  const std::string cap = cpu.cap;
  const bool avx512_allowed = cap.empty() || cap == "avx512", avx2_allowed = cap != "baseline";
  auto has = [&](const char* flag) { return flags.count(flag) > 0; };
  EXPECT_EQ(cpu.avx2, avx2_allowed && has("avx2"));
  EXPECT_EQ(cpu.fma, avx2_allowed && has("fma"));
  for (const auto& [ours, flag] : {std::pair{cpu.avx512f, "avx512f"}, {cpu.avx512bw, "avx512bw"},
                                   {cpu.avx512vl, "avx512vl"}, {cpu.avx512dq, "avx512dq"}})
    EXPECT_EQ(ours, avx512_allowed && has(flag)) << flag;
  // Above every cap: bf16 arithmetic, AMX, AVX-NE-CONVERT (the kernel names the last one since Linux 6.5).
  EXPECT_EQ(cpu.avx512_bf16, cap.empty() && has("avx512_bf16"));
  EXPECT_EQ(cpu.amx_bf16, cap.empty() && has("amx_bf16"));
  if (flags.count("avx_ne_convert") || !cap.empty()) EXPECT_EQ(cpu.avx_ne_convert, cap.empty() && has("avx_ne_convert"));
  EXPECT_EQ(cpu.model.empty(), false);
}

// Each ctest case is a process of its own: the caps set here end with it.
TEST(CpuFeatures, ACapHidesWhatIsAboveItAndTellsLibTorch) {
  cap_cpu_isa("native", "--cpu_isa");
  const CpuFeatures native = cpu_features();
  EXPECT_EQ(native.cap, "");
  cap_cpu_isa("avx2", "--cpu_isa");
  const auto& capped = cpu_features();
  EXPECT_EQ(capped.cap, "avx2");
  EXPECT_FALSE(capped.avx512f || capped.avx512bw || capped.avx512_bf16 || capped.amx_bf16 || capped.avx_ne_convert);
  EXPECT_FALSE(capped.onednn_bf16());
  EXPECT_EQ(capped.avx2, native.avx2);
  EXPECT_NE(capped.describe().find("AVX-512: no, bf16 native: no, capped at avx2"), std::string::npos)
      << capped.describe();
  if (native.avx512f || native.avx_ne_convert || native.amx_bf16) {  // something was hidden: the libraries are told
    EXPECT_EQ(variable("ONEDNN_MAX_CPU_ISA"), "AVX2");
    EXPECT_EQ(variable("ATEN_CPU_CAPABILITY"), "avx2");
    EXPECT_EQ(variable("MKL_ENABLE_INSTRUCTIONS"), "AVX2");
  } else {
    std::printf("nothing above AVX2 on %s: the libraries are not told\n", native.describe().c_str());
  }
  cap_cpu_isa("baseline", "--cpu_isa");
  EXPECT_FALSE(cpu_features().avx2 || cpu_features().fma || cpu_features().avx512f);
  cap_cpu_isa("native", "--cpu_isa");  // back: the variables go with the cap
  EXPECT_EQ(cpu_features().avx512f, native.avx512f);
  EXPECT_EQ(cpu_features().avx2, native.avx2);
  if (variable("RLHF_CPU_ISA") == "(unset)") EXPECT_EQ(variable("ONEDNN_MAX_CPU_ISA"), "(unset)");
  EXPECT_EQ(error_of([] { cap_cpu_isa("avx3", "--cpu_isa"); }),
            "--cpu_isa: expected native, avx512, avx2 or baseline, found 'avx3'");
}

}  // namespace
}  // namespace rlhf
