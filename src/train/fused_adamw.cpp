#include "train/fused_adamw.h"

#include "common/error.h"

namespace rlhf {

torch::Tensor FusedAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    auto& options = static_cast<torch::optim::AdamWOptions&>(group.options());
    check(!options.amsgrad(), "FusedAdamW: amsgrad is not supported (use --optim adamw_torch)");
    // The kernel takes one dtype and device per call: group the tensors by both (normally there is one group).
    std::map<std::pair<int, int>, std::array<std::vector<torch::Tensor>, 5>> by_kind;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      check(!p.grad().is_sparse(), "FusedAdamW: sparse gradients are not supported");
      auto& slot = state_[p.unsafeGetTensorImpl()];
      if (!slot) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
      s.step(s.step() + 1);
      const auto key = std::make_pair(static_cast<int>(p.scalar_type()), static_cast<int>(p.device().type()));
      auto& lists = by_kind[key];
      lists[0].push_back(p);
      lists[1].push_back(p.grad());
      lists[2].push_back(s.exp_avg());
      lists[3].push_back(s.exp_avg_sq());
      // The kernel reads the step count (already incremented, as PyTorch does before calling it) from a tensor.
      lists[4].push_back(torch::full({}, static_cast<double>(s.step()),
                                     torch::TensorOptions().dtype(torch::kFloat32).device(p.device())));
    }
    const auto [beta1, beta2] = options.betas();
    for (auto& [unused, lists] : by_kind)
      at::_fused_adamw_(lists[0], lists[1], lists[2], lists[3], /*max_exp_avg_sqs=*/{}, lists[4], options.lr(), beta1,
                        beta2, options.weight_decay(), options.eps(), /*amsgrad=*/false, /*maximize=*/false);
  }
  return loss;
}

}  // namespace rlhf
