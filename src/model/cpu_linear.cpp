#include "model/cpu_linear.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <atomic>
#include <iostream>
#include <mutex>

#include "common/cpu_features.h"

namespace rlhf {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

using LinearPointwise = at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
                                   c10::string_view, c10::List<std::optional<c10::Scalar>>,
                                   std::optional<c10::string_view>);

// An operator of LibTorch's dispatcher by name, typed; nullptr where this build lacks it. Kept for the process.
template <typename Signature>
const c10::TypedOperatorHandle<Signature>* find_typed_op(const char* name) {
  auto op = c10::Dispatcher::singleton().findOp({name, ""});
  return op ? new c10::TypedOperatorHandle<Signature>(op->typed<Signature>()) : nullptr;
}

// mkldnn::_linear_pointwise: oneDNN's x Wᵀ + b on dense tensors (strided views too), the op LibTorch's own compiler
// emits for CPU linears. Absent from builds without oneDNN.
const c10::TypedOperatorHandle<LinearPointwise>* linear_pointwise() {
  static const auto* handle = find_typed_op<LinearPointwise>("mkldnn::_linear_pointwise");
  return handle;
}

std::atomic<bool> use_onednn{true};
thread_local PackedLinearWeights* active_packed = nullptr;

using ReorderLinearWeight = at::Tensor(const at::Tensor&, std::optional<int64_t>);

// mkldnn::_reorder_linear_weight: a weight [N, K] in oneDNN's blocked layout for `rows`-row products (an opaque
// oneDNN tensor that only _linear_pointwise reads).
const c10::TypedOperatorHandle<ReorderLinearWeight>* reorder_linear_weight() {
  static const auto* handle = find_typed_op<ReorderLinearWeight>("mkldnn::_reorder_linear_weight");
  return handle;
}

// oneDNN's bf16 kernels run here: the CPU has what they need (cpu_features, a cap included) and LibTorch agrees
// (mkldnn::_is_mkldnn_bf16_supported asks oneDNN itself, which a cap reaches through ONEDNN_MAX_CPU_ISA).
bool onednn_bf16_kernels() {
  static const bool yes = [] {
#if defined(__x86_64__)
    if (!cpu_features().onednn_bf16()) return false;
#endif
    if (!reorder_linear_weight()) return false;
    // Asked once, so no handle is kept (a `new`ed one here was a leak LeakSanitizer reported on bf16 CPUs).
    auto supported = c10::Dispatcher::singleton().findOp({"mkldnn::_is_mkldnn_bf16_supported", ""});
    return supported.has_value() && supported->typed<bool()>().call();
  }();
  return yes;
}

// x [rows, K] (any strides), weight [N, K] (any strides, or packed) -> [rows, N].
torch::Tensor onednn_product(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  return linear_pointwise()->call(x, weight, bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt, "none",
                                  c10::List<std::optional<c10::Scalar>>(), std::nullopt);
}

// x [..., K] -> [..., N], through a 2-D view of x.
torch::Tensor onednn_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  auto out_sizes = x.sizes().vec();
  out_sizes.back() = weight.size(0);
  return onednn_product(x.reshape({-1, x.size(-1)}), weight, bias).view(out_sizes);
}

// y = x Wᵀ + b; dy/dx: g W; dy/dW: gᵀ x; dy/db: Σ_rows g. Every product through oneDNN, on 2-D views. Autograd takes no
// undefined tensor as an input: without a bias, `bias` is an empty placeholder and has_bias false.
struct OnednnLinearFunction : public torch::autograd::Function<OnednnLinearFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, bool has_bias) {
    ctx->save_for_backward({x, weight});
    return onednn_linear(x, weight, has_bias ? bias : torch::Tensor());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    auto g = grads[0].reshape({-1, weight.size(0)});  // [rows, N]
    torch::Tensor grad_x, grad_weight, grad_bias;
    if (ctx->needs_input_grad(0)) grad_x = onednn_product(g, weight.t(), {}).view(x.sizes());
    if (ctx->needs_input_grad(1)) grad_weight = onednn_product(g.t(), x.reshape({-1, x.size(-1)}).t(), {});
    if (ctx->needs_input_grad(2)) grad_bias = g.sum(0);
    return {grad_x, grad_weight, grad_bias, torch::Tensor()};
  }
};

bool takes_onednn_path(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  return use_onednn.load(std::memory_order_relaxed) && x.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
         weight.scalar_type() == torch::kFloat32 && (!bias.defined() || bias.scalar_type() == torch::kFloat32) &&
         x.numel() > 0 && x.dim() >= 1 && !at::autocast::is_autocast_enabled(at::kCPU) && linear_pointwise() != nullptr;
}

}  // namespace

const torch::Tensor* packed_weight(const torch::Tensor& weight) {
  if (active_packed == nullptr) return nullptr;
  auto it = active_packed->packed_.find(weight.data_ptr());
  return it == active_packed->packed_.end() ? nullptr : &it->second;
}

PackedLinearWeights::PackedLinearWeights(const std::vector<torch::Tensor>& weights, int64_t rows)
    : outer_(active_packed) {
  active_packed = this;
  if (!use_onednn.load(std::memory_order_relaxed) || !linear_pointwise() || !reorder_linear_weight()) return;
  torch::NoGradGuard no_grad;
  // Under autocast an fp32 weight is cast for each product (to bf16): packed in fp32 it would bypass the cast.
  const bool fp32_products = !at::autocast::is_autocast_enabled(at::kCPU);
  for (const auto& w : weights) {
    if (!w.defined() || w.dim() != 2 || !w.device().is_cpu() || w.numel() == 0) continue;
    if (w.scalar_type() == torch::kFloat32 && fp32_products)
      packed_.emplace(w.data_ptr(), reorder_linear_weight()->call(w.contiguous(), rows));
    else if (w.scalar_type() == torch::kBFloat16 && cpu_bf16_products())
      packed_.emplace(w.data_ptr(), reorder_linear_weight()->call(w.contiguous(), rows));
    else if (w.scalar_type() == torch::kBFloat16 && fp32_products)  // its products run in fp32 (linear_layer)
      packed_.emplace(w.data_ptr(), reorder_linear_weight()->call(w.to(torch::kFloat32), rows));
  }
}

PackedLinearWeights::~PackedLinearWeights() { active_packed = outer_; }

torch::Tensor linear_layer(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (const torch::Tensor* packed = packed_weight(weight);
      packed && x.device().is_cpu() && x.numel() > 0 && !(torch::GradMode::is_enabled() && x.requires_grad())) {
    // In the packed weight's dtype, as autocast would cast the input and bias for it. A bf16 weight packed widened
    // to fp32 (no bf16 products here) gives the result in the input's dtype, as the bf16 product would.
    const auto dtype = packed->scalar_type();
    auto in = x.scalar_type() == dtype ? x : x.to(dtype);
    auto b = bias.defined() && bias.scalar_type() != dtype ? bias.to(dtype) : bias;
    auto y = onednn_linear(in, *packed, b);
    return dtype == weight.scalar_type() ? y : y.to(x.scalar_type());
  }
  if (weight.scalar_type() == torch::kBFloat16 && x.scalar_type() == torch::kFloat32 && x.device().is_cpu() &&
      !at::autocast::is_autocast_enabled(at::kCPU))  // bf16 weights, fp32 products
    return linear_layer(x, weight.to(torch::kFloat32), bias.defined() ? bias.to(torch::kFloat32) : bias);
  if (!takes_onednn_path(x, weight, bias)) return torch::linear(x, weight, bias);
  const bool needs_graph = torch::GradMode::is_enabled() &&
                           (x.requires_grad() || weight.requires_grad() || (bias.defined() && bias.requires_grad()));
  if (needs_graph)
    return OnednnLinearFunction::apply(x, weight, bias.defined() ? bias : torch::empty({0}, x.options()), bias.defined());
  return onednn_linear(x, weight, bias);
}

bool cpu_bf16_products() {
  static std::once_flag said;
  const bool bf16 = onednn_bf16_kernels();
  std::call_once(said, [&] {
    const auto& cpu = cpu_features();
    if (bf16)
      std::cerr << "bf16 path: bf16 products through oneDNN, weights packed in bf16 for generation ("
                << (cpu.bf16_native() ? "bf16 arithmetic in hardware" : "no bf16 arithmetic in hardware: oneDNN converts")
                << "; " << cpu.describe() << ")\n";
    else
      std::cerr << "bf16 path: bf16 weights, fp32 products (oneDNN's bf16 kernels need AVX-512 BW/VL/DQ or "
                   "AVX-NE-CONVERT, and LibTorch's fallback bf16 products are slower than fp32 ones; "
                << cpu.describe() << ")\n";
  });
  return bf16;
}

bool onednn_linear_available() { return linear_pointwise() != nullptr; }
void use_onednn_for_fp32_linear(bool on) { use_onednn.store(on, std::memory_order_relaxed); }
bool onednn_for_fp32_linear() { return use_onednn.load(std::memory_order_relaxed) && onednn_linear_available(); }

}  // namespace rlhf
