#include "model/logprobs.h"

#include <algorithm>

#include "model/cpu_linear.h"

namespace rlhf {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows per chunk so that one chunk's logits stay near 16M floats (64 MB) whatever the vocabulary.
int64_t chunk_rows(int64_t vocab) { return std::max<int64_t>(1, (int64_t{1} << 24) / std::max<int64_t>(vocab, 1)); }

// z = h Wᵀ / T in fp32; at T = 1 (PPO's default) without a pass over [rows, V] that divides by one.
torch::Tensor scaled_logits(const torch::Tensor& hidden, const torch::Tensor& weight, double temperature) {
  auto z = linear_layer(hidden, weight).to(torch::kFloat32);
  return temperature == 1.0 ? z : z / temperature;
}

// log p(target) = z_target − logsumexp(z), z = h Wᵀ / T.  d/dz = onehot(target) − softmax(z), times 1/T for h and W.
struct LinearLogprobsFunction : public torch::autograd::Function<LinearLogprobsFunction> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& hidden, const torch::Tensor& weight,
                               const torch::Tensor& targets, double temperature, bool with_entropy) {
    const int64_t N = hidden.size(0), rows = chunk_rows(weight.size(0));
    auto logprobs = torch::empty({N}, hidden.options().dtype(torch::kFloat32));
    auto entropy = torch::empty({with_entropy ? N : 0}, logprobs.options());
    auto top1 = torch::empty({N}, logprobs.options());
    for (int64_t start = 0; start < N; start += rows) {
      const int64_t end = std::min(N, start + rows);
      auto z = scaled_logits(hidden.slice(0, start, end), weight, temperature);
      auto log_softmax = z.log_softmax(-1);
      logprobs.slice(0, start, end).copy_(log_softmax.gather(-1, targets.slice(0, start, end).unsqueeze(-1)).squeeze(-1));
      if (with_entropy) entropy.slice(0, start, end).copy_(-(log_softmax.exp() * log_softmax).sum(-1));
      top1.slice(0, start, end).copy_(z.argmax(-1).eq(targets.slice(0, start, end)));
    }
    ctx->save_for_backward({hidden, weight, targets});
    ctx->saved_data["temperature"] = temperature;
    ctx->mark_non_differentiable({entropy, top1});
    return {logprobs, entropy, top1};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto hidden = saved[0], weight = saved[1], targets = saved[2];
    const double temperature = ctx->saved_data["temperature"].toDouble();
    auto grad_out = grads[0];  // [N]
    const int64_t N = hidden.size(0), rows = chunk_rows(weight.size(0));
    auto grad_hidden = torch::empty_like(hidden);
    torch::Tensor grad_weight;  // fp32: the first chunk's product, the others added to it
    for (int64_t start = 0; start < N; start += rows) {
      const int64_t end = std::min(N, start + rows);
      auto h = hidden.slice(0, start, end);
      auto z = scaled_logits(h, weight, temperature);
      auto g = -z.softmax(-1);  // d log p / dz = onehot − softmax
      g.scatter_add_(-1, targets.slice(0, start, end).unsqueeze(-1), torch::ones({end - start, 1}, g.options()));
      g = g * (grad_out.slice(0, start, end).to(torch::kFloat32) / temperature).unsqueeze(-1);  // [n, V]
      auto g_cast = g.to(hidden.scalar_type());
      grad_hidden.slice(0, start, end).copy_(linear_layer(g_cast, weight.t()));  // g W
      auto part = linear_layer(g.t(), h.to(torch::kFloat32).t());                  // gᵀ h
      if (grad_weight.defined()) grad_weight.add_(part);
      else grad_weight = part.to(torch::kFloat32);
    }
    if (!grad_weight.defined()) grad_weight = torch::zeros_like(weight, torch::MemoryFormat::Contiguous).to(torch::kFloat32);
    return {grad_hidden, grad_weight.to(weight.scalar_type()), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

TokenLogprobs linear_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
                              double temperature, bool with_entropy) {
  auto out = LinearLogprobsFunction::apply(hidden, weight, targets, temperature, with_entropy);
  TokenLogprobs result{out[0], with_entropy ? out[1] : torch::Tensor(), out[2]};
  return result;
}

TokenLogprobs token_logprobs(TransformerImpl& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                             double temperature, bool with_entropy, const torch::Tensor& positions) {
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  auto hidden = positions.defined()
                    ? model.hidden_states(input_ids, positions, attention_mask, nullptr, (positions == 0).cumsum(1))
                    : model.hidden_states(input_ids, positions_from_mask(attention_mask), attention_mask);  // [B, T, C]
  auto h = hidden.slice(1, 0, T - 1).reshape({B * (T - 1), hidden.size(-1)});
  auto targets = input_ids.slice(1, 1, T).reshape({B * (T - 1)});
  auto out = linear_logprobs(h, model.unembedding(), targets, temperature, with_entropy);
  out.logprobs = out.logprobs.view({B, T - 1});
  if (with_entropy) out.entropy = out.entropy.view({B, T - 1});
  out.top1 = out.top1.view({B, T - 1});
  return out;
}

}  // namespace rlhf
