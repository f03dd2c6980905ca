#include "io/hf_names.h"

namespace rlhf {

namespace {

using Op = NameOp;
using G = GgufLayout;

FamilyNames gpt2_names() {
  return {"transformer.",
          "h.",
          {{"wte.weight", "token_embd.weight", "embed_tokens", Op::Copy, G::AsIs, "V,C"},
           {"wpe.weight", "position_embd.weight", "embed_positions", Op::Copy, G::AsIs, "P,C"}},
          {{"ln_1.weight", "attn_norm.weight", "attn_norm_weight", Op::Copy, G::AsIs, "C"},
           {"ln_1.bias", "attn_norm.bias", "attn_norm_bias", Op::Copy, G::AsIs, "C"},
           {"attn.c_attn.weight", "attn_qkv.weight", "qkv_weight", Op::Transpose, G::Transpose, "C,T"},
           {"attn.c_attn.bias", "attn_qkv.bias", "qkv_bias", Op::Copy, G::AsIs, "T"},
           {"attn.c_proj.weight", "attn_output.weight", "o_weight", Op::Transpose, G::Transpose, "C,C"},
           {"attn.c_proj.bias", "attn_output.bias", "o_bias", Op::Copy, G::AsIs, "C"},
           {"ln_2.weight", "ffn_norm.weight", "mlp_norm_weight", Op::Copy, G::AsIs, "C"},
           {"ln_2.bias", "ffn_norm.bias", "mlp_norm_bias", Op::Copy, G::AsIs, "C"},
           {"mlp.c_fc.weight", "ffn_up.weight", "up_weight", Op::Transpose, G::Transpose, "C,I"},
           {"mlp.c_fc.bias", "ffn_up.bias", "up_bias", Op::Copy, G::AsIs, "I"},
           {"mlp.c_proj.weight", "ffn_down.weight", "down_weight", Op::Transpose, G::Transpose, "I,C"},
           {"mlp.c_proj.bias", "ffn_down.bias", "down_bias", Op::Copy, G::AsIs, "C"}},
          {{"ln_f.weight", "output_norm.weight", "final_norm_weight", Op::Copy, G::AsIs, "C"},
           {"ln_f.bias", "output_norm.bias", "final_norm_bias", Op::Copy, G::AsIs, "C"},
           {"lm_head.weight", "output.weight", "lm_head", Op::Copy, G::AsIs, "V,C", Presence::LmHead, true},
           {"score.weight", "", "score", Op::Copy, G::AsIs, "1,C", Presence::ScoreHead, true}}};
}

// Qwen2 has the same names; its table (below) differs in two rows.
FamilyNames llama_names() {
  const Presence bias = Presence::AttentionBias;
  return {"model.",
          "layers.",
          {{"embed_tokens.weight", "token_embd.weight", "embed_tokens", Op::Copy, G::AsIs, "V,C"}},
          {{"input_layernorm.weight", "attn_norm.weight", "attn_norm_weight", Op::Copy, G::AsIs, "C"},
           {"self_attn.q_proj.weight", "attn_q.weight", "qkv_weight", Op::ConcatRows, G::RopeRows, "Q,C"},
           {"self_attn.k_proj.weight", "attn_k.weight", "qkv_weight", Op::ConcatRows, G::RopeRows, "K,C"},
           {"self_attn.v_proj.weight", "attn_v.weight", "qkv_weight", Op::ConcatRows, G::AsIs, "K,C"},
           {"self_attn.o_proj.weight", "attn_output.weight", "o_weight", Op::Copy, G::AsIs, "C,Q"},
           {"post_attention_layernorm.weight", "ffn_norm.weight", "mlp_norm_weight", Op::Copy, G::AsIs, "C"},
           {"mlp.gate_proj.weight", "ffn_gate.weight", "up_weight", Op::ConcatRows, G::AsIs, "I,C"},
           {"mlp.up_proj.weight", "ffn_up.weight", "up_weight", Op::ConcatRows, G::AsIs, "I,C"},
           {"mlp.down_proj.weight", "ffn_down.weight", "down_weight", Op::Copy, G::AsIs, "C,I"},
           {"self_attn.q_proj.bias", "attn_q.bias", "qkv_bias", Op::ConcatRows, G::RopeRows, "Q", bias},
           {"self_attn.k_proj.bias", "attn_k.bias", "qkv_bias", Op::ConcatRows, G::RopeRows, "K", bias},
           {"self_attn.v_proj.bias", "attn_v.bias", "qkv_bias", Op::ConcatRows, G::AsIs, "K", bias},
           // Llama's attention_bias also biases o_proj; our blocks have no such bias (only the export carries it).
           {"self_attn.o_proj.bias", "attn_output.bias", "", Op::Copy, G::AsIs, "C", bias}},
          {{"norm.weight", "output_norm.weight", "final_norm_weight", Op::Copy, G::AsIs, "C"},
           {"lm_head.weight", "output.weight", "lm_head", Op::Copy, G::AsIs, "V,C", Presence::LmHead, true},
           {"score.weight", "", "score", Op::Copy, G::AsIs, "1,C", Presence::ScoreHead, true}}};
}

// Llama's names without the o_proj bias; q and k as HF stores them (llama.cpp ropes Qwen2 NeoX-style, in halves).
FamilyNames qwen2_names() {
  FamilyNames names = llama_names();
  names.layer.pop_back();
  for (auto& row : names.layer)
    if (row.layout == G::RopeRows) row.layout = G::AsIs;
  return names;
}

std::string expand(const std::string& prefix, int64_t layer, const char* name) {
  return prefix + std::to_string(layer) + "." + name;
}

}  // namespace

const FamilyNames& family_names(Family family) {
  static const FamilyNames gpt2 = gpt2_names(), llama = llama_names(), qwen2 = qwen2_names();
  return family == Family::GPT2 ? gpt2 : family == Family::Qwen2 ? qwen2 : llama;
}

bool is_present(const TensorName& row, const ModelConfig& c, bool with_lm_head, bool with_score_head) {
  switch (row.presence) {
    case Presence::Always: return true;
    case Presence::AttentionBias: return c.attention_bias;
    case Presence::LmHead: return with_lm_head && !c.tie_word_embeddings;
    case Presence::ScoreHead: return with_score_head;
  }
  return false;
}

std::vector<NameRule> hf_name_rules(const ModelConfig& c, bool with_lm_head, bool with_score_head) {
  const FamilyNames& names = family_names(c.family);
  std::vector<NameRule> rules;
  auto add = [&](const TensorName& row, const std::string& ours, const std::string& hf) {
    if (!*row.ours || !is_present(row, c, with_lm_head, with_score_head)) return;
    if (row.op == NameOp::ConcatRows && !rules.empty() && rules.back().ours == ours)
      rules.back().hf.push_back(hf);
    else
      rules.push_back({ours, {hf}, row.op});
  };
  for (const auto& row : names.before) add(row, row.ours, names.backbone + row.hf);
  const std::string layer_prefix = names.backbone + names.layers;
  for (int64_t i = 0; i < c.num_layers; ++i)
    for (const auto& row : names.layer) add(row, expand("layers.", i, row.ours), expand(layer_prefix, i, row.hf));
  for (const auto& row : names.after) add(row, row.ours, (row.head ? "" : names.backbone) + row.hf);
  return rules;
}

}  // namespace rlhf
