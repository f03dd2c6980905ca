#include "model/recompute.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>

#include <mutex>

#include "model/transformer.h"

namespace rlhf {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The default generator of the device the block runs on (CPU, or the CUDA device's own): dropout there draws from it.
at::Generator device_generator(const torch::Device& device) {
  return at::globalContext().defaultGenerator(device);
}

// Restores the device's default generator and the device's autocast state of the forward pass while in scope, and
// puts back what they were at the start of the backward pass when it ends (the rest of the run must not see its RNG
// rewound). Device-generic like torch.utils.checkpoint's preserve_rng_state: on CUDA the masks come from the CUDA
// generator and autocast is CUDA's, and restoring the CPU ones alone would recompute with other dropout masks.
class ReplayState {
 public:
  ReplayState(const torch::Device& device, const torch::Tensor& rng_state, bool autocast, at::ScalarType autocast_dtype)
      : device_(device), generator_(device_generator(device)) {
    {
      std::lock_guard<std::mutex> lock(generator_.mutex());
      rng_ = generator_.get_state();
      generator_.set_state(rng_state);
    }
    autocast_ = at::autocast::is_autocast_enabled(device_.type());
    autocast_dtype_ = at::autocast::get_autocast_dtype(device_.type());
    at::autocast::set_autocast_enabled(device_.type(), autocast);
    at::autocast::set_autocast_dtype(device_.type(), autocast_dtype);
  }
  ~ReplayState() {
    at::autocast::set_autocast_enabled(device_.type(), autocast_);
    at::autocast::set_autocast_dtype(device_.type(), autocast_dtype_);
    std::lock_guard<std::mutex> lock(generator_.mutex());
    generator_.set_state(rng_);
  }

 private:
  torch::Device device_;
  at::Generator generator_;
  torch::Tensor rng_;
  bool autocast_ = false;
  at::ScalarType autocast_dtype_ = at::kBFloat16;
};

// What the block reads besides x; passed by pointer so that autograd does not count these as inputs (cos/sin are
// undefined for GPT-2, the mask when nothing is padded), and copied into the context in forward.
struct BlockInputs {
  BlockImpl* block;
  torch::Tensor cos, sin, mask;
};

struct RecomputedBlock : public torch::autograd::Function<RecomputedBlock> {
  // `parameters` are inputs only so that autograd routes their gradients through this node (a block whose input needs
  // no gradient, the first one over a frozen embedding under LoRA, must still train its adapters).
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, torch::TensorList parameters,
                               const BlockInputs* in) {
    auto generator = device_generator(x.device());
    torch::Tensor rng_state;
    {
      std::lock_guard<std::mutex> lock(generator.mutex());
      rng_state = generator.get_state();
    }
    auto out = in->block->forward(x, in->cos, in->sin, in->mask, nullptr, 0);  // grad mode is off inside a Function's forward
    std::vector<torch::Tensor> saved = {x};
    saved.insert(saved.end(), parameters.begin(), parameters.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["block"] = reinterpret_cast<int64_t>(in->block);
    ctx->saved_data["cos"] = in->cos;
    ctx->saved_data["sin"] = in->sin;
    ctx->saved_data["mask"] = in->mask;
    ctx->saved_data["rng"] = rng_state;
    ctx->saved_data["autocast"] = at::autocast::is_autocast_enabled(x.device().type());
    ctx->saved_data["autocast_dtype"] = static_cast<int64_t>(at::autocast::get_autocast_dtype(x.device().type()));
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto* block = reinterpret_cast<BlockImpl*>(ctx->saved_data["block"].toInt());
    ReplayState replay(saved[0].device(), ctx->saved_data["rng"].toTensor(), ctx->saved_data["autocast"].toBool(),
                       static_cast<at::ScalarType>(ctx->saved_data["autocast_dtype"].toInt()));
    torch::AutoGradMode grad_on(true);
    auto x = saved[0].detach().requires_grad_(saved[0].requires_grad());
    auto out = block->forward(x, ctx->saved_data["cos"].toTensor(), ctx->saved_data["sin"].toTensor(),
                              ctx->saved_data["mask"].toTensor(), nullptr, 0);
    variable_list inputs;
    if (x.requires_grad()) inputs.push_back(x);
    for (size_t k = 1; k < saved.size(); ++k) inputs.push_back(saved[k]);
    auto input_grads = torch::autograd::grad({out}, inputs, {grads[0]}, /*retain_graph=*/false,
                                             /*create_graph=*/false, /*allow_unused=*/true);
    variable_list result;
    size_t next = 0;
    result.push_back(x.requires_grad() ? input_grads[next++] : torch::Tensor());
    for (size_t k = 1; k < saved.size(); ++k) result.push_back(input_grads[next++]);
    result.emplace_back();  // the BlockInputs pointer
    return result;
  }
};

}  // namespace

torch::Tensor recomputed_block(BlockImpl& block, const torch::Tensor& x, const torch::Tensor& cos,
                                 const torch::Tensor& sin, const torch::Tensor& mask) {
  std::vector<torch::Tensor> parameters;
  for (auto& p : block.parameters())
    if (p.requires_grad()) parameters.push_back(p);
  if (parameters.empty() && !x.requires_grad()) return block.forward(x, cos, sin, mask, nullptr, 0);
  const BlockInputs in{&block, cos, sin, mask};
  return RecomputedBlock::apply(x, torch::TensorList(parameters), &in);
}

}  // namespace rlhf
