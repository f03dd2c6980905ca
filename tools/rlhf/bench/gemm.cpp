#include "bench/gemm.h"

#include <torch/torch.h>

#include <cstdio>

#include "bench/measure.h"
#include "common/error.h"
#include "model/cpu_linear.h"
#include "model/device.h"

namespace rlhf::bench {

namespace {
torch::Dtype gemm_dtype(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kFloat16;
  fail("bench --gemm_dtypes", "float32, bfloat16 or float16", "'" + name + "'");
}
}  // namespace

std::vector<GemmResult> bench_gemm(const GemmOptions& o) {
  check(o.repeats >= 1 && o.warmup >= 0, "bench: --gemm_repeats must be >= 1 and --warmup >= 0");
  torch::NoGradGuard no_grad;
  const bool gpu = is_gpu(o.device);
  const bool bf16_native = gpu || cpu_info().bf16_native;
  const auto device = pick_device(o.device);
  std::vector<GemmResult> results;
  for (const auto& name : o.dtypes) {
    const auto dtype = gemm_dtype(name);
    for (int64_t n : o.sizes) {
      check(n >= 1, "bench: GEMM sizes must be positive, found " + std::to_string(n));
      GemmResult r;
      r.dtype = name;
      r.size = n;
      if (dtype != torch::kFloat32 && !bf16_native && !o.force_bf16) {
        r.skipped = "no native bf16 on this CPU (AVX512-BF16/AMX absent)";
        results.push_back(r);
        continue;
      }
      auto a = torch::randn({n, n}).to(device, dtype), b = torch::randn({n, n}).to(device, dtype);
      auto c = torch::empty({n, n}, a.options());
      // The kernels the model's linear layers use: on the CPU in fp32, oneDNN's (model/cpu_linear.h), a bᵀ with the
      // same FLOPs (its output from the caching allocator's cache); else mm_out into one buffer (an allocation per
      // repeat would be timed too).
      const bool onednn = !gpu && dtype == torch::kFloat32 && onednn_for_fp32_linear();
      r.kernel = onednn ? "onednn" : "aten";
      auto seconds = time_repeats(
          o.warmup, o.repeats, [&] { onednn ? (void)linear_layer(a, b) : (void)at::mm_out(c, a, b); }, o.device);
      r.repeats = o.repeats;
      r.median_seconds = median(seconds);
      r.gflops = r.median_seconds > 0 ? 2.0 * n * n * static_cast<double>(n) / r.median_seconds / 1e9 : 0.0;
      results.push_back(r);
    }
  }
  return results;
}

double peak_gflops(const std::vector<GemmResult>& results, const std::string& dtype) {
  double best = 0;
  for (const auto& r : results)
    if (r.dtype == dtype && r.skipped.empty()) best = std::max(best, r.gflops);
  return best;
}

nlohmann::json to_json(const GemmResult& r) {
  nlohmann::json j = {{"dtype", r.dtype}, {"size", r.size}};
  if (!r.skipped.empty()) {
    j["skipped"] = r.skipped;
    return j;
  }
  j["gflops"] = r.gflops;
  j["median_seconds"] = r.median_seconds;
  j["repeats"] = r.repeats;
  j["kernel"] = r.kernel;
  return j;
}

std::string gemm_table(const std::vector<GemmResult>& results) {
  std::string out = "GEMM (n x n x n, median)\n  dtype      n      GFLOP/s   ms       kernel\n";
  char line[160];
  for (const auto& r : results) {
    if (!r.skipped.empty())
      std::snprintf(line, sizeof line, "  %-9s %5lld  skipped: %s\n", r.dtype.c_str(), static_cast<long long>(r.size),
                    r.skipped.c_str());
    else
      std::snprintf(line, sizeof line, "  %-9s %5lld  %9.1f  %7.2f  %s\n", r.dtype.c_str(),
                    static_cast<long long>(r.size), r.gflops, r.median_seconds * 1e3, r.kernel.c_str());
    out += line;
  }
  return out;
}

}  // namespace rlhf::bench
