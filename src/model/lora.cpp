#include "model/lora.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "model/transformer.h"

namespace rlhf {

namespace {

// Every linear module of a block as HF names it (relative to the layer), with the rows of our fused output it is and
// its input width. The order is the HF module order.
struct ModuleSlot {
  std::string hf_module;
  LoraSite site;
  int64_t offset, rows, in;
};

std::vector<ModuleSlot> module_slots(const ModelConfig& c) {
  const int64_t C = c.hidden_size, I = c.intermediate_size, q = c.q_dim(), kv = c.kv_dim();
  if (c.family == Family::GPT2)
    return {{"attn.c_attn", LoraSite::Qkv, 0, q + 2 * kv, C},
            {"attn.c_proj", LoraSite::Output, 0, C, q},
            {"mlp.c_fc", LoraSite::Up, 0, I, C},
            {"mlp.c_proj", LoraSite::Down, 0, C, I}};
  return {{"self_attn.q_proj", LoraSite::Qkv, 0, q, C},
          {"self_attn.k_proj", LoraSite::Qkv, q, kv, C},
          {"self_attn.v_proj", LoraSite::Qkv, q + kv, kv, C},
          {"self_attn.o_proj", LoraSite::Output, 0, C, q},
          {"mlp.gate_proj", LoraSite::Up, 0, I, C},
          {"mlp.up_proj", LoraSite::Up, I, I, C},
          {"mlp.down_proj", LoraSite::Down, 0, C, I}};
}

// PEFT's matching rule for a list of target names: the module's name equals the key or ends with "." + key.
bool matches(const std::string& module, const std::string& key) {
  return module == key ||
         (module.size() > key.size() && module.compare(module.size() - key.size(), key.size(), key) == 0 &&
          module[module.size() - key.size() - 1] == '.');
}

const char* site_parameter(LoraSite site) {
  switch (site) {
    case LoraSite::Qkv: return "qkv_weight";
    case LoraSite::Output: return "o_weight";
    case LoraSite::Up: return "up_weight";
    case LoraSite::Down: return "down_weight";
  }
  return "";
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

std::vector<std::string> resolve_lora_targets(const ModelConfig& c, const std::vector<std::string>& requested) {
  const auto slots = module_slots(c);
  std::vector<std::string> all, keys = requested;
  for (const auto& s : slots) all.push_back(s.hf_module);
  // PEFT's defaults for these model types (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING).
  if (keys.empty()) keys = c.family == Family::GPT2 ? std::vector<std::string>{"c_attn"} : std::vector<std::string>{"q_proj", "v_proj"};
  if (keys.size() == 1 && keys[0] == "all-linear") return all;
  std::vector<std::string> out;
  for (const auto& key : keys) {
    bool found = false;
    for (const auto& module : all)
      if (matches(module, key)) {
        found = true;
        if (std::find(out.begin(), out.end(), module) == out.end()) out.push_back(module);
      }
    if (!found)
      fail("--lora_target_modules", "names of " + family_name(c.family) + " linear modules (" + joined(all) +
                                        ", or all-linear)",
           "'" + key + "'");
  }
  // Keep the HF order whatever the order asked.
  std::vector<std::string> ordered;
  for (const auto& module : all)
    if (std::find(out.begin(), out.end(), module) != out.end()) ordered.push_back(module);
  return ordered;
}

LoraBlockImpl::LoraBlockImpl(const ModelConfig& config, const std::vector<std::string>& targets, int64_t r,
                             double alpha, double dropout_p)
    : scaling(alpha / static_cast<double>(r)), dropout(dropout_p) {
  for (const auto& slot : module_slots(config)) {
    if (std::find(targets.begin(), targets.end(), slot.hf_module) == targets.end()) continue;
    LoraAdapter a{slot.hf_module, slot.site, slot.offset, slot.rows, {}, {}};
    std::string name = slot.hf_module;
    std::replace(name.begin(), name.end(), '.', '_');
    // PEFT's init: A ~ kaiming_uniform(a = √5) = U(−1/√in, 1/√in); B = 0, so the adapted model starts as the base.
    const double bound = 1.0 / std::sqrt(static_cast<double>(slot.in));
    a.A = register_parameter(name + "_lora_A", torch::empty({r, slot.in}).uniform_(-bound, bound));
    a.B = register_parameter(name + "_lora_B", torch::zeros({slot.rows, r}));
    adapters.push_back(std::move(a));
  }
}

namespace {

struct DropoutLinearFunction : public torch::autograd::Function<DropoutLinearFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& A,
                               const torch::Tensor& keep, double p) {
    ctx->save_for_backward({x, A, keep});
    ctx->saved_data["scale"] = 1.0 / (1.0 - p);
    return torch::linear(x * keep * (1.0 / (1.0 - p)), A);  // the dropped copy is transient
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &A = saved[1], &keep = saved[2];
    const double scale = ctx->saved_data["scale"].toDouble();
    const auto& grad = grad_outputs[0];  // [.., r], in the forward's output dtype (bf16 under autocast)
    torch::Tensor grad_x, grad_A;
    if (ctx->needs_input_grad(0))
      grad_x = (torch::matmul(grad, A.to(grad.scalar_type())) * keep * scale).to(x.scalar_type());
    if (ctx->needs_input_grad(1)) {
      // Σ over all rows of gradᵀ · dropped, the dropped input recomputed from x and the mask.
      const auto dropped = (x * keep * scale).to(grad.scalar_type());
      grad_A = grad.reshape({-1, grad.size(-1)}).t().mm(dropped.reshape({-1, dropped.size(-1)})).to(A.scalar_type());
    }
    return {grad_x, grad_A, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor dropout_keep_mask(const torch::Tensor& x, double p) {
  return torch::empty(x.sizes(), x.options().dtype(torch::kBool)).bernoulli_(1.0 - p);
}

torch::Tensor dropout_linear(const torch::Tensor& x, const torch::Tensor& A, const torch::Tensor& keep, double p) {
  return DropoutLinearFunction::apply(x, A, keep, p);
}

bool LoraBlockImpl::targets(LoraSite site) const {
  for (const auto& a : adapters)
    if (a.site == site) return true;
  return false;
}

torch::Tensor LoraBlockImpl::add(LoraSite site, const torch::Tensor& x, const torch::Tensor& base) const {
  // The adapters' deltas, with zeros for rows no adapter covers, make one full-width delta added to the base output.
  // (Adding each delta to a narrow() of the base and concatenating costs more in the backward pass: every narrow's
  // gradient is a full-width zero-padded tensor.)
  std::vector<torch::Tensor> pieces;
  int64_t position = 0;
  const int64_t width = base.size(-1);
  auto gap = [&](int64_t rows) {
    auto sizes = base.sizes().vec();
    sizes.back() = rows;
    return torch::zeros(sizes, base.options());
  };
  for (const auto& a : adapters) {  // adapters of one site are in row order (module_slots' order)
    if (a.site != site) continue;
    auto projected = dropout > 0 && is_training() ? dropout_linear(x, a.A, dropout_keep_mask(x, dropout), dropout)
                                                   : torch::linear(x, a.A);  // [.., r]
    auto delta = torch::linear(projected, a.B) * scaling;                     // [.., rows]
    if (a.offset == 0 && a.rows == width) return base + delta;
    if (a.offset > position) pieces.push_back(gap(a.offset - position));
    pieces.push_back(delta.to(base.scalar_type()));
    position = a.offset + a.rows;
  }
  if (position < width) pieces.push_back(gap(width - position));
  return base + torch::cat(pieces, -1);
}

void add_lora(TransformerImpl& model, const LoraConfig& config) {
  if (config.r < 1) fail("--lora_r", "1 or more", std::to_string(config.r));
  if (!(config.dropout >= 0 && config.dropout < 1)) fail("--lora_dropout", "a probability in [0, 1)", std::to_string(config.dropout));
  if (!std::isfinite(config.alpha)) fail("--lora_alpha", "a finite number", std::to_string(config.alpha));
  if (has_lora(model)) fail("add_lora", "a model without adapters", "one that has them already");
  const auto targets = resolve_lora_targets(model.config(), config.target_modules);
  for (auto& p : model.parameters()) p.set_requires_grad(false);
  const auto options = model.embed_tokens.options().dtype(torch::kFloat32);  // adapters stay fp32 over a bf16 base
  for (size_t i = 0; i < model.layers->size(); ++i) {
    auto& block = *model.layers[i]->as<BlockImpl>();
    block.lora = block.register_module("lora", LoraBlock(model.config(), targets, config.r, config.alpha, config.dropout));
    block.lora->to(options.device(), torch::kFloat32);
    block.lora->base_model = config.base_model;
    block.lora->train(model.is_training());
  }
  if (config.train_score_head) {
    check(model.has_score_head(), "add_lora: train_score_head needs a model with a scalar head");
    torch::NoGradGuard no_grad;
    model.base_score = model.score.detach().clone();
    // The trained head is fp32 master weights even when the frozen base is held in bf16.
    model.score.set_data(model.score.data().to(torch::kFloat32));
    model.score.set_requires_grad(true);
  }
}

bool has_lora(const TransformerImpl& model) {
  return model.layers->size() > 0 && !model.layers->ptr(0)->as<BlockImpl>()->lora.is_empty();
}

void set_lora_enabled(TransformerImpl& model, bool enabled) {
  for (size_t i = 0; i < model.layers->size(); ++i) {
    auto& block = *model.layers[i]->as<BlockImpl>();
    if (!block.lora.is_empty()) block.lora->enabled = enabled;
  }
  model.use_base_score = !enabled;
}

LoraDisabled::LoraDisabled(TransformerImpl& model) : model_(model), had_lora_(has_lora(model)) {
  if (had_lora_) set_lora_enabled(model_, false);
}

LoraDisabled::~LoraDisabled() {
  if (had_lora_) set_lora_enabled(model_, true);
}

std::vector<torch::Tensor> trainable_parameters(torch::nn::Module& model) {
  std::vector<torch::Tensor> out;
  for (auto& p : model.parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

torch::Tensor lora_merged(TransformerImpl& model, const std::string& name, const torch::Tensor& parameter) {
  if (!has_lora(model) || name.rfind("layers.", 0) != 0) return parameter;
  const size_t dot = name.find('.', 7);
  if (dot == std::string::npos) return parameter;
  const int64_t layer = std::stoll(name.substr(7, dot - 7));
  const std::string which = name.substr(dot + 1);
  const auto& block = *model.layers[static_cast<size_t>(layer)]->as<BlockImpl>();
  torch::Tensor merged;
  torch::NoGradGuard no_grad;
  for (const auto& a : block.lora->adapters) {
    if (which != site_parameter(a.site)) continue;
    if (!merged.defined()) merged = parameter.detach().to(torch::kFloat32).clone();
    merged.narrow(0, a.offset, a.rows).add_(torch::mm(a.B.to(torch::kFloat32), a.A.to(torch::kFloat32)), block.lora->scaling);
  }
  return merged.defined() ? merged : parameter;
}

LoraSummary lora_summary(const TransformerImpl& model) {
  LoraSummary s;
  if (!has_lora(model)) return s;
  const auto& lora = *model.layers->ptr(0)->as<BlockImpl>()->lora;
  if (lora.adapters.empty()) return s;
  s.r = lora.adapters[0].A.size(0);
  s.alpha = lora.scaling * static_cast<double>(s.r);
  s.dropout = lora.dropout;
  for (const auto& a : lora.adapters) s.target_modules.push_back(a.hf_module);
  s.train_score_head = model.base_score.defined();
  s.base_model = lora.base_model;
  return s;
}

}  // namespace rlhf
