#include "model/decode_attention.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RLHF_HAVE_AVX512_PATH 1
#endif

#include <cmath>
#include <cstring>
#include <limits>

#include "common/cpu_features.h"
#include "common/error.h"

namespace rlhf {

// Why a loop of our own rather than LibTorch's kernels. A decode step reads the whole cache once and does two
// multiply-adds per element read: it is bound by memory traffic, so the cache should be as small as the model's
// dtype allows (bf16 under bf16 autocast) and be read once, in place. LibTorch's CPU flash kernel is built for long
// query blocks (one query row: 2.6 vs 0.35 ms per layer, GPT-2 shape), and `bmm` with one row per product runs bf16
// at a third of its fp32 speed (0.39 vs 0.12 ms, 32 rows x 4 heads x 128 positions), so a bf16 cache through bmm was
// slower than an fp32 one (bench/RESULTS.md). Here one work item is one kv head of one row: its scores, their softmax
// and the weighted sum of its values, while its slice of the cache (~12 KB at the demo's 96 positions) sits in the
// core's cache; the query heads that share the kv head (grouped-query attention) re-read it from there, and bf16 is
// widened to fp32 in registers.
namespace {

constexpr int64_t kLanes = 16;  // one AVX-512 register of floats; the compiler maps the fixed-size loops onto it

inline float bf16_to_float(uint16_t bits) {
  const uint32_t widened = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &widened, sizeof f);
  return f;
}

// A cache row as fp32: in place for an fp32 cache, widened into `buffer` for bf16.
template <typename T>
inline const float* load_row(const T* src, float* buffer, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    return src;
  } else {
    const auto* bits = reinterpret_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) buffer[i] = bf16_to_float(bits[i]);
    return buffer;
  }
}

// Σ_d a[d] b[d] in kLanes independent partial sums (vectorisable without reassociating a single sum).
inline float dot(const float* a, const float* b, int64_t n) {
  float lanes[kLanes] = {};
  int64_t d = 0;
  for (; d + kLanes <= n; d += kLanes)
    for (int64_t j = 0; j < kLanes; ++j) lanes[j] += a[d + j] * b[d + j];
  float sum = 0;
  for (; d < n; ++d) sum += a[d] * b[d];
  for (int64_t j = 0; j < kLanes; ++j) sum += lanes[j];
  return sum;
}

// scores[g, s] = scale · q[g] · k[s] (or -inf where not allowed), for one kv head and its G query heads.
template <typename T>
inline void group_scores(const float* q, const T* k, int64_t k_stride, const bool* allowed, int64_t G, int64_t S,
                         int64_t D, float scale, float* row, float* scores) {
  const float minus_inf = -std::numeric_limits<float>::infinity();
  for (int64_t s = 0; s < S; ++s) {
    if (allowed && !allowed[s]) {
      for (int64_t g = 0; g < G; ++g) scores[g * S + s] = minus_inf;
      continue;
    }
    const float* key = load_row(k + s * k_stride, row, D);
    for (int64_t g = 0; g < G; ++g) scores[g * S + s] = scale * dot(q + g * D, key, D);
  }
}

// out[g] = Σ_s p[g, s] v[s], for one kv head and its G query heads.
template <typename T>
inline void group_values(const float* p, const T* v, int64_t v_stride, int64_t G, int64_t S, int64_t D, float* row,
                         float* out) {
  std::fill(out, out + G * D, 0.0f);
  for (int64_t s = 0; s < S; ++s) {
    bool any = false;
    for (int64_t g = 0; g < G; ++g) any |= p[g * S + s] != 0.0f;
    if (!any) continue;  // masked (padding) positions: nothing to read
    const float* value = load_row(v + s * v_stride, row, D);
    for (int64_t g = 0; g < G; ++g) {
      const float w = p[g * S + s];
      float* o = out + g * D;
      for (int64_t d = 0; d < D; ++d) o[d] += w * value[d];
    }
  }
}

// The loops above compiled three times, for AVX-512, for AVX2 with FMA and for the x86-64 baseline, so the binary
// stays portable while they get the machine's vector width; portable_kernels picks by cpu_features(), which a cap
// (RLHF_CPU_ISA) lowers (GCC's target_clones would pick by the CPU alone).
#define RLHF_PORTABLE_LOOPS(suffix, target)                                                                          \
  target void scores_f32_##suffix(const float* q, const float* k, int64_t ks, const bool* a, int64_t G, int64_t S,  \
                                  int64_t D, float scale, float* row, float* out) {                                \
    group_scores(q, k, ks, a, G, S, D, scale, row, out);                                                           \
  }                                                                                                                \
  target void scores_bf16_##suffix(const float* q, const c10::BFloat16* k, int64_t ks, const bool* a, int64_t G,   \
                                   int64_t S, int64_t D, float scale, float* row, float* out) {                    \
    group_scores(q, k, ks, a, G, S, D, scale, row, out);                                                           \
  }                                                                                                                \
  target void values_f32_##suffix(const float* p, const float* v, int64_t vs, int64_t G, int64_t S, int64_t D,     \
                                  float* row, float* out) {                                                        \
    group_values(p, v, vs, G, S, D, row, out);                                                                     \
  }                                                                                                                \
  target void values_bf16_##suffix(const float* p, const c10::BFloat16* v, int64_t vs, int64_t G, int64_t S,       \
                                   int64_t D, float* row, float* out) {                                            \
    group_values(p, v, vs, G, S, D, row, out);                                                                     \
  }

RLHF_PORTABLE_LOOPS(baseline, )
#ifdef RLHF_HAVE_AVX512_PATH
RLHF_PORTABLE_LOOPS(avx2, __attribute__((target("avx2,fma"))))
RLHF_PORTABLE_LOOPS(avx512, __attribute__((target("avx512f"))))
#endif

// One work item's two passes, for a cache dtype T.
template <typename T>
struct Kernels {
  void (*scores)(const float* q, const T* k, int64_t k_stride, const bool* allowed, int64_t G, int64_t S, int64_t D,
                 float scale, float* row, float* out);
  void (*values)(const float* p, const T* v, int64_t v_stride, int64_t G, int64_t S, int64_t D, float* row,
                 float* out);
};

#ifdef RLHF_HAVE_AVX512_PATH
#define RLHF_AVX512 __attribute__((target("avx512f")))
#define RLHF_AVX2 __attribute__((target("avx2,fma")))

// A register of cache row as fp32 (a bf16 row widened with a shift), for AVX-512 (16 floats) and for AVX2 with FMA
// (8 floats; most CPUs without AVX-512), and the sum of an AVX2 register's lanes.
RLHF_AVX512 inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
RLHF_AVX512 inline __m512 load16(const c10::BFloat16* p) {
  const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}
RLHF_AVX2 inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
RLHF_AVX2 inline __m256 load8(const c10::BFloat16* p) {
  const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
}
RLHF_AVX2 inline float sum8(__m256 x) {
  __m128 half = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  half = _mm_add_ps(half, _mm_movehl_ps(half, half));
  half = _mm_add_ss(half, _mm_movehdup_ps(half));
  return _mm_cvtss_f32(half);
}

// The vector kernels, one body for both instruction sets, for head sizes of NC registers of W floats (32 to 128): the
// query (per head) and the output accumulators stay in registers across the keys, and each cache row is loaded once
// per query head (from L1 after the first). A fixed NC lets the compiler keep the arrays in registers. `mm` is the
// intrinsics' prefix, `load` and `sum` the helpers above; ISA_kernels(D) picks the kernels for head size D, if any.
#define RLHF_VECTOR_KERNELS(isa, attribute, available, V, mm, W, load, sum)                                          \
  template <int NC, typename T>                                                                                       \
  attribute void scores_##isa(const float* q, const T* k, int64_t k_stride, const bool* allowed, int64_t G, int64_t S, \
                              int64_t /*D = NC x W*/, float scale, float* /*row*/, float* scores) {                   \
    const float minus_inf = -std::numeric_limits<float>::infinity();                                                  \
    for (int64_t g = 0; g < G; ++g) {                                                                                 \
      V query[NC];                                                                                                    \
      for (int c = 0; c < NC; ++c) query[c] = mm##_loadu_ps(q + g * NC * W + c * W);                                  \
      float* out = scores + g * S;                                                                                    \
      for (int64_t s = 0; s < S; ++s) {                                                                               \
        if (allowed && !allowed[s]) {                                                                                 \
          out[s] = minus_inf;                                                                                         \
          continue;                                                                                                   \
        }                                                                                                             \
        const T* key = k + s * k_stride;                                                                              \
        V acc = mm##_mul_ps(query[0], load(key));                                                                     \
        for (int c = 1; c < NC; ++c) acc = mm##_fmadd_ps(query[c], load(key + c * W), acc);                           \
        out[s] = scale * sum(acc);                                                                                    \
      }                                                                                                               \
    }                                                                                                                 \
  }                                                                                                                   \
  template <int NC, typename T>                                                                                       \
  attribute void values_##isa(const float* p, const T* v, int64_t v_stride, int64_t G, int64_t S, int64_t /*D*/,      \
                              float* /*row*/, float* out) {                                                           \
    for (int64_t g = 0; g < G; ++g) {                                                                                 \
      V acc[NC];                                                                                                      \
      for (int c = 0; c < NC; ++c) acc[c] = mm##_setzero_ps();                                                        \
      const float* weights = p + g * S;                                                                               \
      for (int64_t s = 0; s < S; ++s) {                                                                               \
        if (weights[s] == 0.0f) continue; /* masked (padding) positions: nothing to read */                           \
        const V w = mm##_set1_ps(weights[s]);                                                                         \
        const T* value = v + s * v_stride;                                                                            \
        for (int c = 0; c < NC; ++c) acc[c] = mm##_fmadd_ps(w, load(value + c * W), acc[c]);                         \
      }                                                                                                               \
      for (int c = 0; c < NC; ++c) mm##_storeu_ps(out + g * NC * W + c * W, acc[c]);                                  \
    }                                                                                                                 \
  }                                                                                                                   \
  template <typename T>                                                                                               \
  Kernels<T> isa##_kernels(int64_t D) {                                                                               \
    if (!(available)) return {nullptr, nullptr};                                                                      \
    switch (D) {                                                                                                      \
      case 32: return {scores_##isa<32 / W, T>, values_##isa<32 / W, T>};                                            \
      case 64: return {scores_##isa<64 / W, T>, values_##isa<64 / W, T>};                                            \
      case 80: return {scores_##isa<80 / W, T>, values_##isa<80 / W, T>};                                            \
      case 96: return {scores_##isa<96 / W, T>, values_##isa<96 / W, T>};                                            \
      case 128: return {scores_##isa<128 / W, T>, values_##isa<128 / W, T>};                                         \
      default: return {nullptr, nullptr};                                                                             \
    }                                                                                                                 \
  }

RLHF_VECTOR_KERNELS(avx512, RLHF_AVX512, cpu_features().avx512f, __m512, _mm512, 16, load16, _mm512_reduce_add_ps)
RLHF_VECTOR_KERNELS(avx2, RLHF_AVX2, cpu_features().avx2 && cpu_features().fma, __m256, _mm256, 8, load8, sum8)
#endif

// The widest kernels the machine and head size allow (or those `path` names, where it can run them), else the
// portable loops.
#ifdef RLHF_HAVE_AVX512_PATH
#define RLHF_PICK_PORTABLE(scores, values)                                                     \
  if (cpu_features().avx512f) return {scores##_avx512, values##_avx512};                       \
  if (cpu_features().avx2 && cpu_features().fma) return {scores##_avx2, values##_avx2};        \
  return {scores##_baseline, values##_baseline}
#else
#define RLHF_PICK_PORTABLE(scores, values) return {scores##_baseline, values##_baseline}
#endif
Kernels<float> portable_kernels(float*) { RLHF_PICK_PORTABLE(scores_f32, values_f32); }
Kernels<c10::BFloat16> portable_kernels(c10::BFloat16*) { RLHF_PICK_PORTABLE(scores_bf16, values_bf16); }

template <typename T>
Kernels<T> kernels_for(DecodeKernel path, int64_t D) {
#ifdef RLHF_HAVE_AVX512_PATH
  if (path == DecodeKernel::best || path == DecodeKernel::avx512)
    if (auto fast = avx512_kernels<T>(D); fast.scores) return fast;
  if (path == DecodeKernel::best || path == DecodeKernel::avx2)
    if (auto fast = avx2_kernels<T>(D); fast.scores) return fast;
#endif
  return portable_kernels(static_cast<T*>(nullptr));
}

// In place: x = softmax(x); all zeros when every entry is -inf (nothing allowed).
void softmax_row(float* x, int64_t n) {
  float top = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) top = std::max(top, x[i]);
  if (top == -std::numeric_limits<float>::infinity()) {
    std::fill(x, x + n, 0.0f);
    return;
  }
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - top));
  const float inverse = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inverse;
}

// q32 [B, KV, G, D] fp32 contiguous; mask [B, S] bool or null; out [B, KV, G, D] fp32. One work item per (row, kv
// head): its scores, their softmax and the weighted values, while its slice of the cache is warm.
template <typename T>
void attend(DecodeKernel path, const float* q32, const T* k, const T* v, at::IntArrayRef k_strides,
            at::IntArrayRef v_strides, const bool* mask, int64_t B, int64_t KV, int64_t G, int64_t S, int64_t D,
            float* out) {
  const Kernels<T> kernels = kernels_for<T>(path, D);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  at::parallel_for(0, B * KV, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(D)), probs(static_cast<size_t>(G * S));
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / KV, h = i % KV;
      const bool* allowed = mask ? mask + b * S : nullptr;
      kernels.scores(q32 + i * G * D, k + b * k_strides[0] + h * k_strides[1], k_strides[2], allowed, G, S, D, scale,
                     row.data(), probs.data());
      for (int64_t g = 0; g < G; ++g) softmax_row(probs.data() + g * S, S);
      kernels.values(probs.data(), v + b * v_strides[0] + h * v_strides[1], v_strides[2], G, S, D, row.data(),
                     out + i * G * D);
    }
  });
}

}  // namespace

bool decode_kernel_available(DecodeKernel path, int64_t head_size) {
  if (path == DecodeKernel::best || path == DecodeKernel::portable) return true;
#ifdef RLHF_HAVE_AVX512_PATH
  if (path == DecodeKernel::avx512) return avx512_kernels<float>(head_size).scores != nullptr;
  if (path == DecodeKernel::avx2) return avx2_kernels<float>(head_size).scores != nullptr;
#endif
  return false;
}

torch::Tensor decode_attention(const torch::Tensor& q, const torch::Tensor& k_in, const torch::Tensor& v_in,
                               const torch::Tensor& allowed, DecodeKernel path) {
  RECORD_FUNCTION("rlhf::decode_attention", std::vector<c10::IValue>());  // a row of its own in `rlhf bench --profile`
  const int64_t B = q.size(0), H = q.size(1), KV = k_in.size(1), S = k_in.size(2), D = q.size(3);
  check(q.size(2) == 1 && k_in.sizes() == v_in.sizes() && k_in.size(0) == B && k_in.size(3) == D && H % KV == 0,
        "decode_attention: q [B, H, 1, D] and k, v [B, KV, S, D] with H a multiple of KV");
  check(k_in.device().is_cpu() && v_in.device().is_cpu(), "decode_attention: a CPU cache");
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  // The cache is fp32 or bf16. Anything else (fp16 weights; a one-token prefill's own keys, fp32 after RoPE, beside
  // its bf16 values) is read as fp32, as are rows that are not contiguous.
  torch::Tensor k = k_in, v = v_in;
  const bool readable = k.scalar_type() == v.scalar_type() &&
                        (k.scalar_type() == torch::kFloat32 || k.scalar_type() == torch::kBFloat16) &&
                        k.stride(3) == 1 && v.stride(3) == 1;
  if (!readable) k = k.to(torch::kFloat32).contiguous(), v = v.to(torch::kFloat32).contiguous();
  auto q32 = q.to(torch::kFloat32).contiguous();  // [B, H, 1, D] = [B, KV, G, D]: head h reads kv head h / G
  torch::Tensor mask;
  if (allowed.defined()) mask = allowed.reshape({B, S}).to(torch::kBool).contiguous();
  const bool* mask_data = mask.defined() ? mask.const_data_ptr<bool>() : nullptr;
  auto out = torch::empty({B, H, 1, D}, q32.options());
  if (k.scalar_type() == torch::kBFloat16)
    attend(path, q32.const_data_ptr<float>(), k.const_data_ptr<c10::BFloat16>(), v.const_data_ptr<c10::BFloat16>(),
           k.strides(), v.strides(), mask_data, B, KV, H / KV, S, D, out.data_ptr<float>());
  else
    attend(path, q32.const_data_ptr<float>(), k.const_data_ptr<float>(), v.const_data_ptr<float>(), k.strides(),
           v.strides(), mask_data, B, KV, H / KV, S, D, out.data_ptr<float>());
  return out.to(q.scalar_type());
}

}  // namespace rlhf
