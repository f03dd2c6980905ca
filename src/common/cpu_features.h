// What this CPU's vector units can do: the one place every instruction-set-dependent path asks (oneDNN's bf16 weight
// packing and the bf16 path in model/cpu_linear, the decode-attention kernels, the machine line of `rlhf bench`).
//
// A cap (RLHF_CPU_ISA=avx512|avx2|baseline in the environment, or `rlhf --cpu_isa`) hides what lies above it, so that a
// machine with AVX-512 runs, and tests, the paths of one without. The cap also reaches the libraries inside LibTorch
// (oneDNN's ONEDNN_MAX_CPU_ISA, ATen's ATEN_CPU_CAPABILITY, MKL's MKL_ENABLE_INSTRUCTIONS), which then behave as they do
// on such a CPU: under avx2, oneDNN refuses to pack bf16 weights and ATen's bf16 products leave oneDNN, exactly as on an
// AMD Zen 3 (measured; bench/RESULTS.md, "CPUs without AVX-512").
#pragma once
#include <string>

namespace rlhf {

struct CpuFeatures {
  bool avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_bf16 = false;     // bf16 dot products in AVX-512 (Cooper Lake, Sapphire Rapids, AMD Zen 4 and later)
  bool avx_ne_convert = false;  // bf16 <-> fp32 conversions in AVX2 registers (Sierra Forest, Arrow Lake)
  bool amx_bf16 = false;        // bf16 tile products (Sapphire Rapids and later)
  std::string cap;              // the cap in force ("" = none): avx512 | avx2 | baseline
  std::string model;            // /proc/cpuinfo's "model name" ("" where unknown)

  // AVX-512 F, BW, VL and DQ: what oneDNN calls avx512_core, its least AVX-512 level.
  bool avx512() const { return avx512f && avx512bw && avx512vl && avx512dq; }
  // bf16 arithmetic in hardware (not only conversions).
  bool bf16_native() const { return avx512_bf16 || amx_bf16; }
  // oneDNN's bf16 kernels run here (its check: AVX-512 core or AVX-NE-CONVERT); without them LibTorch's bf16 products
  // fall back to ATen's own loops and oneDNN will not pack bf16 weights.
  bool onednn_bf16() const { return avx512() || avx_ne_convert; }
  // "Intel(R) Xeon(R) ... (AVX-512: yes, bf16 native: yes)", as figures name their CPU.
  std::string describe() const;
};

// The CPU as cpuid reports it (and the OS enables its registers), less what the cap hides. The cap is read from
// RLHF_CPU_ISA the first time, unless cap_cpu_isa came first.
const CpuFeatures& cpu_features();

// Caps the instruction sets used from now on at `level`: native (no cap), avx512, avx2 or baseline (x86-64 without
// AVX2). Sets oneDNN's, ATen's and MKL's own variables too where the cap hides something this CPU has, which they read
// once, at their first product: call before any tensor work (the CLI does it first thing). `where` names the option
// for the error a wrong level gets. A cap above the CPU hides nothing.
void cap_cpu_isa(const std::string& level, const std::string& where);

}  // namespace rlhf
