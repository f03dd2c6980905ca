#include "model/transformer.h"

#include <ATen/autocast_mode.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "model/cpu_linear.h"
#include "model/decode_attention.h"
#include "model/recompute.h"
#include "model/short_attention.h"

namespace rlhf {

namespace F = torch::nn::functional;

KVCache::KVCache(const ModelConfig& config, int64_t batch, int64_t max_length, torch::TensorOptions options) {
  for (int64_t i = 0; i < config.num_layers; ++i) {
    keys.push_back(torch::empty({batch, config.num_kv_heads, max_length, config.head_dim}, options));
    values.push_back(torch::empty({batch, config.num_kv_heads, max_length, config.head_dim}, options));
  }
}

BlockImpl::BlockImpl(const ModelConfig& c) : config_(c) {
  const int64_t C = c.hidden_size, I = c.intermediate_size, qkv_rows = c.q_dim() + 2 * c.kv_dim();
  attn_norm_weight = register_parameter("attn_norm_weight", torch::ones({C}));
  mlp_norm_weight = register_parameter("mlp_norm_weight", torch::ones({C}));
  qkv_weight = register_parameter("qkv_weight", torch::empty({qkv_rows, C}));
  o_weight = register_parameter("o_weight", torch::empty({C, c.q_dim()}));
  if (c.attention_bias) qkv_bias = register_parameter("qkv_bias", torch::zeros({qkv_rows}));
  // In this order (initialisation draws in it): norm biases, o bias, up (+ bias), down (+ bias).
  if (c.layer_norm) {
    attn_norm_bias = register_parameter("attn_norm_bias", torch::zeros({C}));
    mlp_norm_bias = register_parameter("mlp_norm_bias", torch::zeros({C}));
  }
  if (c.linear_bias) o_bias = register_parameter("o_bias", torch::zeros({C}));
  up_weight = register_parameter("up_weight", torch::empty({c.gelu_mlp ? I : 2 * I, C}));  // SwiGLU rows: gate then up
  if (c.linear_bias) up_bias = register_parameter("up_bias", torch::zeros({I}));
  down_weight = register_parameter("down_weight", torch::empty({C, I}));
  if (c.linear_bias) down_bias = register_parameter("down_bias", torch::zeros({C}));
}

namespace {
// LayerNorm; bf16 weights meeting fp32 activations (bf16 weights, fp32 products: model/cpu_linear.h) are widened.
torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, double eps) {
  if (x.scalar_type() != torch::kFloat32 || weight.scalar_type() == torch::kFloat32)
    return torch::layer_norm(x, {x.size(-1)}, weight, bias, eps);
  return torch::layer_norm(x, {x.size(-1)}, weight.to(torch::kFloat32), bias.defined() ? bias.to(torch::kFloat32) : bias,
                           eps);
}
}  // namespace

torch::Tensor BlockImpl::norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) const {
  if (config_.layer_norm) return layer_norm(x, weight, bias, config_.norm_eps);
  // RMSNorm as Llama computes it: in fp32, then back to the activation dtype before the gain.
  auto x32 = x.to(torch::kFloat32);
  auto normed = x32 * torch::rsqrt(x32.pow(2).mean(-1, true) + config_.norm_eps);
  return weight * normed.to(x.scalar_type());
}

namespace {
// Llama's RoPE convention: rotate the two halves of each head, x*cos + rotate_half(x)*sin.
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  auto halves = x.chunk(2, -1);
  auto rotated = torch::cat({-halves[1], halves[0]}, -1);
  return x * cos + rotated * sin;
}

}  // namespace

torch::Tensor BlockImpl::attention(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                   const torch::Tensor& mask, KVCache* cache, int64_t layer) {
  const int64_t B = x.size(0), T = x.size(1), H = config_.num_heads, KV = config_.num_kv_heads, D = config_.head_dim;
  auto qkv = project(LoraSite::Qkv, x, qkv_weight, qkv_bias);  // [B, T, (H + 2KV) D]
  auto parts = qkv.split({H * D, KV * D, KV * D}, -1);
  auto q = parts[0].view({B, T, H, D}).transpose(1, 2);  // [B, H, T, D]
  auto k = parts[1].view({B, T, KV, D}).transpose(1, 2);  // [B, KV, T, D]
  auto v = parts[2].view({B, T, KV, D}).transpose(1, 2);
  if (cos.defined()) {
    auto c = cos.unsqueeze(1), s = sin.unsqueeze(1);  // [B, 1, T, D]
    q = apply_rope(q, c, s);
    k = apply_rope(k, c, s);
  }
  if (cache) {
    const int64_t start = cache->length, end = start + T;
    cache->keys[layer].slice(2, start, end).copy_(k);
    cache->values[layer].slice(2, start, end).copy_(v);
    if (start > 0) {  // a prefill (start 0) attends to its own keys and values, as computed
      k = cache->keys[layer].slice(2, 0, end);
      v = cache->values[layer].slice(2, 0, end);
      if (T > 1) k = k.to(q.scalar_type()), v = v.to(q.scalar_type());  // SDPA wants one dtype; decode reads the cache
    }
  }
  if (cache && T == 1 && x.device().is_cpu()) {
    auto out = decode_attention(q, k, v, mask).transpose(1, 2).reshape({B, T, H * D});
    return project(LoraSite::Output, out, o_weight, o_bias);
  }
  // Grouped-query attention: head h reads kv head h / (H / KV). A prefill into the KV cache on the CPU lets SDPA read
  // the shared heads itself (enable_gqa), as decode did before decode_attention: copying the whole cache H / KV times
  // each step cost ~8x the attention itself (Qwen2's 14 / 2 heads, 160 positions, fp32; bench/RESULTS.md). Training
  // forwards keep the copies: the CPU's backward with enable_gqa was 25-50 % slower. On a GPU, unmeasured, they stay.
  const bool gqa_in_kernel = KV != H && cache && x.device().is_cpu();
  if (KV != H && !gqa_in_kernel) {
    k = k.repeat_interleave(H / KV, 1);
    v = v.repeat_interleave(H / KV, 1);
  }
  const bool causal_only = !mask.defined() && T > 1 && !(cache && cache->length > 0);
  torch::Tensor out;  // [B, H, T, D]
  if (!cache && x.device().is_cpu() && k.size(2) <= kShortAttentionMaxKeys)  // training and scoring forwards
    out = short_attention(q, k, v, mask, causal_only);
  else
    out = at::scaled_dot_product_attention(q, k, v, mask.defined() ? c10::optional<at::Tensor>(mask) : c10::nullopt,
                                           0.0, causal_only, c10::nullopt, gqa_in_kernel);
  out = out.transpose(1, 2).reshape({B, T, H * D});
  return project(LoraSite::Output, out, o_weight, o_bias);
}

torch::Tensor BlockImpl::project(LoraSite site, const torch::Tensor& x, const torch::Tensor& weight,
                                 const torch::Tensor& bias) const {
  auto y = linear_layer(x, weight, bias);
  return lora && lora->enabled && lora->targets(site) ? lora->add(site, x, y) : y;
}

torch::Tensor BlockImpl::mlp(const torch::Tensor& x) const {
  if (config_.gelu_mlp)
    return project(LoraSite::Down, torch::gelu(project(LoraSite::Up, x, up_weight, up_bias), "tanh"), down_weight, down_bias);
  auto gate_up = project(LoraSite::Up, x, up_weight, up_bias).chunk(2, -1);  // SwiGLU: silu(x W_gate) * (x W_up)
  return project(LoraSite::Down, torch::silu(gate_up[0]) * gate_up[1], down_weight, down_bias);
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                 const torch::Tensor& mask, KVCache* cache, int64_t layer) {
  auto h = x + attention(norm(x, attn_norm_weight, attn_norm_bias), cos, sin, mask, cache, layer);
  return h + mlp(norm(h, mlp_norm_weight, mlp_norm_bias));
}

TransformerImpl::TransformerImpl(const ModelConfig& c, bool with_lm_head, bool with_score_head) : config_(c) {
  if (c.vocab_size <= 0 || c.hidden_size <= 0 || c.num_layers <= 0)
    fail("model config", "positive vocab_size, hidden_size and num_layers",
         std::to_string(c.vocab_size) + ", " + std::to_string(c.hidden_size) + ", " + std::to_string(c.num_layers));
  embed_tokens = register_parameter("embed_tokens", torch::empty({c.vocab_size, c.hidden_size}));
  if (c.learned_positions)
    embed_positions = register_parameter("embed_positions", torch::empty({c.max_position_embeddings, c.hidden_size}));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) layers->push_back(Block(c));
  final_norm_weight = register_parameter("final_norm_weight", torch::ones({c.hidden_size}));
  if (c.layer_norm) final_norm_bias = register_parameter("final_norm_bias", torch::zeros({c.hidden_size}));
  has_lm_head_ = with_lm_head;
  if (with_lm_head && !c.tie_word_embeddings) lm_head = register_parameter("lm_head", torch::empty({c.vocab_size, c.hidden_size}));
  if (with_score_head) score = register_parameter("score", torch::zeros({1, c.hidden_size}));

  if (!c.learned_positions) {
    // inv_freq_i = theta^(-2i/D), then the configured scaling (HF's rope_type linear / llama3).
    const int64_t D = c.head_dim;
    auto inv_freq = 1.0 / torch::pow(c.rope_theta, torch::arange(0, D, 2, torch::kInt64).to(torch::kFloat32) / D);
    const auto& rs = c.rope_scaling;
    if (rs.type == "linear") {
      inv_freq = inv_freq / rs.factor;
    } else if (rs.type == "llama3") {
      const double old_len = static_cast<double>(rs.original_max_position_embeddings);
      const double low_wavelen = old_len / rs.low_freq_factor, high_wavelen = old_len / rs.high_freq_factor;
      auto wavelen = 2 * M_PI / inv_freq;
      auto scaled = torch::where(wavelen > low_wavelen, inv_freq / rs.factor, inv_freq);
      auto smooth = (old_len / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
      auto smoothed = (1 - smooth) * scaled / rs.factor + smooth * scaled;
      auto medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
      inv_freq = torch::where(medium, smoothed, scaled);
    }
    inv_freq_ = register_buffer("inv_freq", inv_freq);
  }
}

void TransformerImpl::add_score_head() {
  if (!score.defined()) score = register_parameter("score", torch::zeros({1, config_.hidden_size}, embed_tokens.options()));
  torch::NoGradGuard no_grad;
  score.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(config_.hidden_size + 1)));
}

Transformer copy_with_heads(TransformerImpl& source, bool with_lm_head, bool with_score_head) {
  Transformer copy(source.config(), with_lm_head, with_score_head);
  copy->to(source.embed_tokens.device(), source.embed_tokens.scalar_type());
  auto from = source.named_parameters();
  torch::NoGradGuard no_grad;
  for (auto& p : copy->named_parameters()) {
    if (from.contains(p.key())) p.value().copy_(from[p.key()]);
    else if (p.key() == "score") copy->add_score_head();  // a new scalar head, as the paper's RM gets
  }
  return copy;
}

std::pair<torch::Tensor, torch::Tensor> TransformerImpl::rope(const torch::Tensor& position_ids) const {
  // HF computes the angles in fp32: [B, T, 1] * [D/2] -> [B, T, D/2], duplicated to [B, T, D].
  auto freqs = position_ids.to(torch::kFloat32).unsqueeze(-1) * inv_freq_.to(position_ids.device());
  auto emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos(), emb.sin()};
}

torch::Tensor TransformerImpl::hidden_states(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                                             const torch::Tensor& attention_mask, KVCache* cache,
                                             const torch::Tensor& documents) {
  const int64_t T = input_ids.size(1), past = cache ? cache->length : 0;
  auto x = torch::embedding(embed_tokens, input_ids);  // [B, T, C]
  // bf16 weights on a CPU that runs bf16 products in fp32 (outside autocast): the activations are fp32, the weights
  // widened as they are read (model/cpu_linear.h).
  if (x.scalar_type() == torch::kBFloat16 && x.device().is_cpu() && !at::autocast::is_autocast_enabled(at::kCPU) &&
      !cpu_bf16_products())
    x = x.to(torch::kFloat32);
  if (config_.learned_positions) x = x + torch::embedding(embed_positions, position_ids);
  torch::Tensor cos, sin;
  if (!config_.learned_positions) {
    std::tie(cos, sin) = rope(position_ids);
    cos = cos.to(x.scalar_type()), sin = sin.to(x.scalar_type());
  }
  torch::Tensor mask;
  if (attention_mask.defined() || documents.defined()) {
    // allowed[b, t, s] = key s is real, not in the future of query t and in its document; a query may always see
    // itself, so that rows of pad queries stay finite (their outputs are ignored).
    check(!documents.defined() || past == 0, "documents apart: not with a KV cache");
    const int64_t S = attention_mask.defined() ? attention_mask.size(1) : past + T;
    auto query_pos = torch::arange(past, past + T, input_ids.options()).view({T, 1});
    auto key_pos = torch::arange(S, input_ids.options()).view({1, S});
    auto causal = key_pos <= query_pos;                             // [T, S]
    auto allowed = causal.unsqueeze(0).expand({input_ids.size(0), T, S});  // [B, T, S]
    if (attention_mask.defined()) allowed = allowed & attention_mask.to(torch::kBool).unsqueeze(1);
    if (documents.defined()) allowed = allowed & (documents.unsqueeze(2) == documents.unsqueeze(1));
    allowed = allowed | (key_pos == query_pos).unsqueeze(0);
    mask = allowed.unsqueeze(1);  // [B, 1, T, S]
  }
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    auto& block = *layers[i]->as<BlockImpl>();
    // Recomputation only pays where activations are kept for a backward pass (never with a KV cache: generation).
    if (gradient_checkpointing && !cache && is_training() && torch::GradMode::is_enabled())
      x = recomputed_block(block, x, cos, sin, mask);
    else
      x = block.forward(x, cos, sin, mask, cache, i);
  }
  if (cache) cache->length += T;
  if (config_.layer_norm) return layer_norm(x, final_norm_weight, final_norm_bias, config_.norm_eps);
  auto x32 = x.to(torch::kFloat32);
  return final_norm_weight * (x32 * torch::rsqrt(x32.pow(2).mean(-1, true) + config_.norm_eps)).to(x.scalar_type());
}

torch::Tensor TransformerImpl::logits(const torch::Tensor& hidden) const {
  check(has_lm_head_, "this model has no LM head (it is a reward or value model)");
  return linear_layer(hidden, inference_unembedding.defined() ? inference_unembedding : unembedding());
}

torch::Tensor TransformerImpl::scores(const torch::Tensor& hidden) const {
  check(score.defined(), "this model has no scalar head (it is not a reward or value model)");
  return linear_layer(hidden, use_base_score && base_score.defined() ? base_score : score).squeeze(-1);
}

torch::Tensor positions_from_mask(const torch::Tensor& attention_mask) {
  return (attention_mask.to(torch::kLong).cumsum(-1) - 1).clamp_min(0);
}

void init_weights(TransformerImpl& model, double std) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.named_parameters()) {
    const auto& name = p.key();
    auto& t = p.value();
    if (name.find("norm_weight") != std::string::npos) t.fill_(1.0);
    else if (name.find("bias") != std::string::npos) t.zero_();
    else t.normal_(0.0, std);
  }
}

}  // namespace rlhf
