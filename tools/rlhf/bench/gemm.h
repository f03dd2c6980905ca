// This machine's matrix-multiply rate through LibTorch: the practical compute limit that model-FLOP utilisation is
// measured against (issue 13). Square n×n×n products, warm-up excluded, median of repeats.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::bench {

struct GemmOptions {
  std::vector<int64_t> sizes = {1024, 2048};
  std::vector<std::string> dtypes = {"float32", "bfloat16"};
  int64_t warmup = 2;
  int64_t repeats = 7;
  bool force_bf16 = false;  // time bf16 even where the CPU has no native bf16 (torch then emulates it, slowly)
  std::string device = "cpu";  // cpu | cuda | cuda:N
};

struct GemmResult {
  std::string dtype;
  int64_t size = 0;          // n of the n×n×n product
  double median_seconds = 0;
  double gflops = 0;         // 2 n³ / median_seconds / 1e9
  int64_t repeats = 0;
  std::string skipped;       // why it was not measured ("" when it was)
  std::string kernel;        // onednn (fp32 on the CPU, as the model's linear layers run) or aten
};

std::vector<GemmResult> bench_gemm(const GemmOptions& options);
// The best measured rate for a dtype (GFLOP/s), 0 when none: the peak MFU figures divide by.
double peak_gflops(const std::vector<GemmResult>& results, const std::string& dtype);

nlohmann::json to_json(const GemmResult& result);
std::string gemm_table(const std::vector<GemmResult>& results);

}  // namespace rlhf::bench
