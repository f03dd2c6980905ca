// bf16 autocast on the CPU while in scope, on every CPU: for tests of autocast's own mechanics (the casts it makes, the
// copies it caches, the cast-once generation that reproduces them). --dtype bfloat16 goes through AutocastGuard
// (train/loop.h), which leaves autocast off on a CPU without bf16 products (model/cpu_linear.h); these mechanics must
// hold there too (on tiny tensors ATen's slow bf16 loops do not matter), and for a GPU.
#pragma once
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

namespace rlhf {

class Bf16AutocastOnAnyCpu {
 public:
  explicit Bf16AutocastOnAnyCpu(bool on = true) : on_(on) {
    if (!on_) return;
    previous_ = at::autocast::is_autocast_enabled(at::kCPU);
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~Bf16AutocastOnAnyCpu() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(at::kCPU, previous_);
  }
  Bf16AutocastOnAnyCpu(const Bf16AutocastOnAnyCpu&) = delete;
  Bf16AutocastOnAnyCpu& operator=(const Bf16AutocastOnAnyCpu&) = delete;

 private:
  bool on_, previous_ = false;
};

}  // namespace rlhf
