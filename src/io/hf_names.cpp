#include "io/hf_names.h"

namespace rlhf {

std::string backbone_prefix(const ModelConfig& c) {
  return c.family == Family::GPT2 ? "transformer." : "model.";
}

namespace {

std::string expand(std::string text, int64_t layer) {
  for (size_t at = text.find("{i}"); at != std::string::npos; at = text.find("{i}"))
    text.replace(at, 3, std::to_string(layer));
  return text;
}

// Per-layer rules. Names on the HF side are relative to the backbone prefix.
std::vector<NameRule> gpt2_layer_rules() {
  return {
      {"layers.{i}.attn_norm_weight", {"h.{i}.ln_1.weight"}},
      {"layers.{i}.attn_norm_bias", {"h.{i}.ln_1.bias"}},
      {"layers.{i}.qkv_weight", {"h.{i}.attn.c_attn.weight"}, NameOp::Transpose},
      {"layers.{i}.qkv_bias", {"h.{i}.attn.c_attn.bias"}},
      {"layers.{i}.o_weight", {"h.{i}.attn.c_proj.weight"}, NameOp::Transpose},
      {"layers.{i}.o_bias", {"h.{i}.attn.c_proj.bias"}},
      {"layers.{i}.mlp_norm_weight", {"h.{i}.ln_2.weight"}},
      {"layers.{i}.mlp_norm_bias", {"h.{i}.ln_2.bias"}},
      {"layers.{i}.up_weight", {"h.{i}.mlp.c_fc.weight"}, NameOp::Transpose},
      {"layers.{i}.up_bias", {"h.{i}.mlp.c_fc.bias"}},
      {"layers.{i}.down_weight", {"h.{i}.mlp.c_proj.weight"}, NameOp::Transpose},
      {"layers.{i}.down_bias", {"h.{i}.mlp.c_proj.bias"}},
  };
}

std::vector<NameRule> llama_layer_rules(bool attention_bias) {
  std::vector<NameRule> rules = {
      {"layers.{i}.attn_norm_weight", {"layers.{i}.input_layernorm.weight"}},
      {"layers.{i}.qkv_weight",
       {"layers.{i}.self_attn.q_proj.weight", "layers.{i}.self_attn.k_proj.weight", "layers.{i}.self_attn.v_proj.weight"},
       NameOp::ConcatRows},
      {"layers.{i}.o_weight", {"layers.{i}.self_attn.o_proj.weight"}},
      {"layers.{i}.mlp_norm_weight", {"layers.{i}.post_attention_layernorm.weight"}},
      {"layers.{i}.up_weight", {"layers.{i}.mlp.gate_proj.weight", "layers.{i}.mlp.up_proj.weight"}, NameOp::ConcatRows},
      {"layers.{i}.down_weight", {"layers.{i}.mlp.down_proj.weight"}},
  };
  if (attention_bias)
    rules.push_back({"layers.{i}.qkv_bias",
                     {"layers.{i}.self_attn.q_proj.bias", "layers.{i}.self_attn.k_proj.bias",
                      "layers.{i}.self_attn.v_proj.bias"},
                     NameOp::ConcatRows});
  return rules;
}

}  // namespace

std::vector<NameRule> hf_name_rules(const ModelConfig& c, bool with_lm_head, bool with_score_head) {
  const std::string prefix = backbone_prefix(c);
  std::vector<NameRule> rules;
  auto add = [&](NameRule rule, bool prefixed) {
    if (prefixed)
      for (auto& name : rule.hf) name = prefix + name;
    rules.push_back(std::move(rule));
  };
  if (c.family == Family::GPT2) {
    add({"embed_tokens", {"wte.weight"}}, true);
    add({"embed_positions", {"wpe.weight"}}, true);
  } else {
    add({"embed_tokens", {"embed_tokens.weight"}}, true);
  }
  const auto layer_rules = c.family == Family::GPT2 ? gpt2_layer_rules() : llama_layer_rules(c.attention_bias);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    for (auto rule : layer_rules) {
      rule.ours = expand(rule.ours, i);
      for (auto& name : rule.hf) name = expand(name, i);
      add(rule, true);
    }
  }
  if (c.family == Family::GPT2) {
    add({"final_norm_weight", {"ln_f.weight"}}, true);
    add({"final_norm_bias", {"ln_f.bias"}}, true);
  } else {
    add({"final_norm_weight", {"norm.weight"}}, true);
  }
  if (with_lm_head && !c.tie_word_embeddings) add({"lm_head", {"lm_head.weight"}}, false);
  if (with_score_head) add({"score", {"score.weight"}}, false);
  return rules;
}

}  // namespace rlhf
