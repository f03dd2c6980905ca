#include "model/short_attention.h"

#include <cmath>
#include <limits>

namespace rlhf {

torch::Tensor short_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& allowed, bool causal) {
  const int64_t T = q.size(2), S = k.size(2);
  // s = q kᵀ / √D in fp32: the scale and the mask are applied in place on the fp32 copy, which autograd lets
  // (neither's backward needs the values they overwrite).
  auto scores = torch::matmul(q, k.transpose(-2, -1)).to(torch::kFloat32);
  scores.mul_(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  torch::Tensor blocked;
  if (allowed.defined()) blocked = allowed.logical_not();
  else if (causal) blocked = torch::ones({T, S}, q.options().dtype(torch::kBool)).triu(1);
  if (blocked.defined()) scores.masked_fill_(blocked, -std::numeric_limits<float>::infinity());
  auto weights = scores.softmax(-1).to(v.scalar_type());
  return torch::matmul(weights, v);
}

}  // namespace rlhf
