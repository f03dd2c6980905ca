#include "model/generate.h"

#include "model/cpu_linear.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace rlhf {

torch::Tensor filter_logits(const torch::Tensor& logits, int64_t top_k, double top_p) {
  auto out = logits;
  const double neg_inf = -std::numeric_limits<double>::infinity();
  if (top_k > 0 && top_k < logits.size(-1)) {
    auto kth = std::get<0>(out.topk(top_k, -1)).select(-1, top_k - 1).unsqueeze(-1);
    out = out.masked_fill(out < kth, neg_inf);
  }
  if (top_p < 1.0) {
    auto [sorted, order] = out.sort(-1, /*descending=*/true);
    auto cumulative = sorted.softmax(-1).cumsum(-1);
    // Drop a token when the mass before it already reaches top_p (the most likely token always stays).
    auto drop_sorted = (cumulative - sorted.softmax(-1)) >= top_p;
    auto drop = torch::zeros_like(drop_sorted).scatter(-1, order, drop_sorted);
    out = out.masked_fill(drop, neg_inf);
  }
  return out;
}

torch::Tensor sample_categorical(const torch::Tensor& probs, at::Generator generator) {
  const int64_t V = probs.size(-1);
  auto cdf = probs.cumsum(-1, torch::kFloat64);  // [B, V]
  auto total = cdf.narrow(-1, V - 1, 1);         // [B, 1]
  if (!(torch::isfinite(total) & (total > 0)).all().item<bool>()) return {};  // one host sync per step
  auto u = torch::empty_like(total).uniform_(0, 1, generator) * total;
  // u < total, also where the product rounds up: the last token of positive probability is then the pick.
  u = torch::minimum(u, torch::nextafter(total, torch::zeros_like(total)));
  // The first token whose cumulative weight exceeds u; a token of zero probability adds nothing, so it never is.
  return torch::searchsorted(cdf, u, /*out_int32=*/false, /*right=*/true).squeeze(-1).clamp_max(V - 1);
}

namespace {

// While in scope under bf16 autocast: each fp32 weight and bias that only feeds matrix products (the blocks'
// projections, an untied LM head, a scalar head) holds its bf16 copy, and a tied unembedding gets one beside the
// embedding (which stays fp32 for the lookup). That is exactly the cast autocast makes before each product, done once
// instead of once per decode step: a demo-size policy spent more time casting than multiplying. Norm weights and
// embeddings stay as they are. The tensors' storage is swapped (set_data), so optimizer state and checkpoints, which
// hold the same tensors, see the fp32 values again when the scope ends.
bool bf16_autocast_on(c10::DeviceType device) {
  return at::autocast::is_autocast_enabled(device) && at::autocast::get_autocast_dtype(device) == torch::kBFloat16;
}

// Whether a parameter (by its full name) only feeds matrix products: the blocks' projections and their biases, an
// untied LM head, a scalar head; LoRA adapters are left to their own code.
bool feeds_matmuls_only(const std::string& name) {
  static const std::vector<std::string> matmul_only = {"qkv_weight", "qkv_bias", "o_weight", "o_bias",  "up_weight",
                                                       "up_bias",    "down_weight", "down_bias", "lm_head", "score"};
  const std::string leaf = name.substr(name.rfind('.') + 1);
  return name.find("lora") == std::string::npos &&
         std::find(matmul_only.begin(), matmul_only.end(), leaf) != matmul_only.end();
}

class MatmulWeightsInBf16 {
 public:
  MatmulWeightsInBf16(TransformerImpl& model, bool wanted) : model_(model) {
    if (!wanted || !bf16_autocast_on(model.embed_tokens.device().type())) return;
    torch::NoGradGuard no_grad;
    for (auto& item : model.named_parameters()) {
      auto& p = item.value();
      if (p.scalar_type() != torch::kFloat32 || !feeds_matmuls_only(item.key())) continue;
      swapped_.emplace_back(p, p.data());
      p.set_data(p.data().to(torch::kBFloat16));
    }
    if (model.has_lm_head() && model.config().tie_word_embeddings && model.embed_tokens.scalar_type() == torch::kFloat32)
      model.inference_unembedding = model.embed_tokens.detach().to(torch::kBFloat16);
  }
  ~MatmulWeightsInBf16() {
    torch::NoGradGuard no_grad;
    for (auto& [parameter, fp32] : swapped_) parameter.set_data(fp32);
    model_.inference_unembedding = torch::Tensor();
  }
  MatmulWeightsInBf16(const MatmulWeightsInBf16&) = delete;
  MatmulWeightsInBf16& operator=(const MatmulWeightsInBf16&) = delete;

 private:
  TransformerImpl& model_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> swapped_;
};

// The weights of the model's linear layers as its forward passes them (the bf16 copies while MatmulWeightsInBf16 is in
// scope), for packing on the CPU.
std::vector<torch::Tensor> linear_weights(TransformerImpl& model) {
  std::vector<torch::Tensor> weights;
  if (!model.embed_tokens.device().is_cpu()) return weights;
  for (const auto& item : model.named_parameters())
    if (feeds_matmuls_only(item.key()) && item.value().dim() == 2) weights.push_back(item.value());  // not the biases
  if (model.has_lm_head())
    weights.push_back(model.inference_unembedding.defined() ? model.inference_unembedding : model.unembedding());
  return weights;
}

GenerationOutput generate_in_inference_mode(TransformerImpl& model, const torch::Tensor& prompt_ids,
                                            const torch::Tensor& prompt_mask, const GenerationOptions& o,
                                            at::Generator generator) {
  const int64_t B = prompt_ids.size(0), P = prompt_ids.size(1), N = o.max_new_tokens;
  auto device = prompt_ids.device();
  auto long_options = torch::TensorOptions().dtype(torch::kLong).device(device);
  auto sequences = torch::full({B, P + N}, o.pad_token_id, long_options);
  sequences.slice(1, 0, P).copy_(prompt_ids);
  auto mask = torch::zeros({B, P + N}, long_options);
  mask.slice(1, 0, P).copy_(prompt_mask);
  auto logprobs = torch::zeros({B, N}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  auto response_mask = torch::zeros({B, N}, long_options);
  auto finished = torch::zeros({B}, torch::TensorOptions().dtype(torch::kBool).device(device));

  std::unique_ptr<KVCache> cache;
  // The cache holds keys and values as attention reads them: in bf16 under bf16 autocast, which casts SDPA's inputs
  // to bf16 in every forward with gradients (so scoring and training see the same keys), else in the weights' dtype.
  // A cache in the embedding's fp32 would double the bytes each decode step reads, and on a GPU be cast back in every
  // step and layer. The CPU's decode attention reads either, widening to fp32 as it reads (model/decode_attention.cpp).
  auto cache_options = model.embed_tokens.options();
  if (bf16_autocast_on(device.type())) cache_options = cache_options.dtype(torch::kBFloat16);
  if (o.use_cache) cache = std::make_unique<KVCache>(model.config(), B, P + N, cache_options);
  auto positions = positions_from_mask(prompt_mask);  // [B, P]
  auto next_position = positions.select(1, P - 1) + 1;  // [B]

  // Prefill: the whole prompt once; then one token per step.
  auto hidden = model.hidden_states(prompt_ids, positions, prompt_mask, cache.get());
  auto last_logits = model.logits(hidden.select(1, P - 1)).to(torch::kFloat32);  // [B, V]
  std::vector<int64_t> stops = o.stop_token_ids;
  if (o.eos_token_id >= 0) stops.push_back(o.eos_token_id);
  auto stop_ids = torch::tensor(stops, long_options);
  int64_t produced = 0;
  for (int64_t t = 0; t < N; ++t) {
    // One log-softmax serves the sampling distribution (when nothing is filtered) and the token's log-prob.
    auto scaled = o.temperature == 1.0 ? last_logits : last_logits / o.temperature;
    auto scaled_logprobs = scaled.log_softmax(-1);
    torch::Tensor token;
    if (o.do_sample) {
      const bool filtered = o.top_k > 0 || o.top_p < 1.0;
      auto probs = filtered ? filter_logits(scaled, o.top_k, o.top_p).softmax(-1) : scaled_logprobs.exp();
      token = sample_categorical(probs, generator);
      // A NaN or diverged weight (PPO's policy) gets a message, not a wrong token.
      if (!token.defined())
        fail("sampling", "finite next-token probabilities",
             "NaN or inf at new token " + std::to_string(t) + " (the model's weights are not finite, or have diverged)");
    } else {
      token = scaled.argmax(-1);
    }
    auto token_logprob = scaled_logprobs.gather(-1, token.unsqueeze(-1)).squeeze(-1);
    auto alive = finished.logical_not();
    token = torch::where(alive, token, torch::full_like(token, o.pad_token_id));
    sequences.select(1, P + t).copy_(token);
    logprobs.select(1, t).copy_(torch::where(alive, token_logprob, torch::zeros_like(token_logprob)));
    response_mask.select(1, t).copy_(alive.to(torch::kLong));
    mask.select(1, P + t).fill_(1);
    produced = t + 1;
    if (!stops.empty()) finished = finished | torch::isin(token, stop_ids);
    if (t + 1 == N || finished.all().item<bool>()) break;

    if (cache) {
      hidden = model.hidden_states(token.unsqueeze(1), next_position.unsqueeze(1), mask.slice(1, 0, P + t + 1),
                                   cache.get());
      last_logits = model.logits(hidden.select(1, 0)).to(torch::kFloat32);
    } else {
      auto full_mask = mask.slice(1, 0, P + t + 1);
      hidden = model.hidden_states(sequences.slice(1, 0, P + t + 1), positions_from_mask(full_mask), full_mask);
      last_logits = model.logits(hidden.select(1, P + t)).to(torch::kFloat32);
    }
    next_position = next_position + 1;
  }
  GenerationOutput out;
  out.sequences = sequences.slice(1, 0, P + produced);
  out.response_ids = sequences.slice(1, P, P + produced);
  out.response_logprobs = logprobs.slice(1, 0, produced);
  out.response_mask = response_mask.slice(1, 0, produced);
  return out;
}

// cuDNN's attention builds and caches a plan for each new sequence shape: a decode step has a new key length every
// token, and a batch of 32 x 128 new tokens paid 5-10 s of planning on its first run (H100, measured in
// bench/RESULTS.md), against no cost and the same steady speed with the other kernels. Training forwards keep cuDNN
// (fixed shapes, 8-18 % faster there): the guard turns it off for the generate call only and restores the setting.
class NoCudnnAttention {
 public:
  NoCudnnAttention() : was_(at::globalContext().userEnabledCuDNNSDP()) { at::globalContext().setSDPUseCuDNN(false); }
  ~NoCudnnAttention() { at::globalContext().setSDPUseCuDNN(was_); }
  NoCudnnAttention(const NoCudnnAttention&) = delete;
  NoCudnnAttention& operator=(const NoCudnnAttention&) = delete;

 private:
  bool was_;
};

}  // namespace

GenerationOutput generate(TransformerImpl& model, const torch::Tensor& prompt_ids, const torch::Tensor& prompt_mask,
                          const GenerationOptions& o, at::Generator generator) {
  GenerationOutput inference;
  {
    // Inference mode skips autograd's version counters and view tracking: less work per op in a decode step made of
    // many small ops. Its tensors cannot enter autograd later (PPO feeds the sequences to training forwards), so the
    // outputs are cloned into ordinary tensors once, after the loop.
    MatmulWeightsInBf16 cast_once(model, o.cast_weights_once);
    NoCudnnAttention fixed_plans_only;
    c10::InferenceMode inference_mode;
    PackedLinearWeights packed(o.pack_weights ? linear_weights(model) : std::vector<torch::Tensor>{}, prompt_ids.size(0));
    inference = generate_in_inference_mode(model, prompt_ids, prompt_mask, o, generator);
  }
  GenerationOutput out;
  out.sequences = inference.sequences.clone();
  out.response_ids = out.sequences.slice(1, prompt_ids.size(1));
  out.response_logprobs = inference.response_logprobs.clone();
  out.response_mask = inference.response_mask.clone();
  return out;
}

}  // namespace rlhf
