#include "model/param_specs.hpp"

namespace alp::model {
namespace {

void decoder_specs(std::vector<ParamSpec>& out, const std::string& prefix, const DecoderConfig& d, int64_t layers) {
  const int64_t q = d.num_heads * d.head_dim, kv = d.num_kv_heads * d.head_dim, h = d.hidden_size;
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = prefix + "layers." + std::to_string(i) + ".";
    out.push_back({p + "self_attn.q_proj.weight", {q, h}});
    out.push_back({p + "self_attn.k_proj.weight", {kv, h}});
    out.push_back({p + "self_attn.v_proj.weight", {kv, h}});
    out.push_back({p + "self_attn.o_proj.weight", {h, q}});
    out.push_back({p + "self_attn.q_norm.weight", {d.head_dim}});
    out.push_back({p + "self_attn.k_norm.weight", {d.head_dim}});
    out.push_back({p + "mlp.gate_proj.weight", {d.intermediate_size, h}});
    out.push_back({p + "mlp.up_proj.weight", {d.intermediate_size, h}});
    out.push_back({p + "mlp.down_proj.weight", {h, d.intermediate_size}});
    out.push_back({p + "input_layernorm.weight", {h}});
    out.push_back({p + "post_attention_layernorm.weight", {h}});
  }
  out.push_back({prefix + "norm.weight", {h}});
}

void merger_specs(std::vector<ParamSpec>& out, const std::string& p, const VisionConfig& v, bool postshuffle) {
  const int64_t m = v.hidden_size * v.merge_unit();
  const int64_t n = postshuffle ? m : v.hidden_size;
  out.push_back({p + "norm.weight", {n}});
  out.push_back({p + "norm.bias", {n}});
  out.push_back({p + "linear_fc1.weight", {m, m}});
  out.push_back({p + "linear_fc1.bias", {m}});
  out.push_back({p + "linear_fc2.weight", {v.out_hidden_size, m}});
  out.push_back({p + "linear_fc2.bias", {v.out_hidden_size}});
}

}  // namespace

std::vector<ParamSpec> parameter_specs(const ModelConfig& cfg) {
  std::vector<ParamSpec> out;
  const VisionConfig& v = cfg.vision;
  const std::string vp = "vlm.model.visual.";
  out.push_back({vp + "patch_embed.proj.weight", {v.hidden_size, v.in_channels, v.temporal_patch_size, v.patch_size, v.patch_size}});
  out.push_back({vp + "patch_embed.proj.bias", {v.hidden_size}});
  out.push_back({vp + "pos_embed.weight", {v.num_position_embeddings, v.hidden_size}});
  for (int64_t i = 0; i < v.depth; ++i) {
    const std::string p = vp + "blocks." + std::to_string(i) + ".";
    out.push_back({p + "norm1.weight", {v.hidden_size}});
    out.push_back({p + "norm1.bias", {v.hidden_size}});
    out.push_back({p + "norm2.weight", {v.hidden_size}});
    out.push_back({p + "norm2.bias", {v.hidden_size}});
    out.push_back({p + "attn.qkv.weight", {3 * v.hidden_size, v.hidden_size}});
    out.push_back({p + "attn.qkv.bias", {3 * v.hidden_size}});
    out.push_back({p + "attn.proj.weight", {v.hidden_size, v.hidden_size}});
    out.push_back({p + "attn.proj.bias", {v.hidden_size}});
    out.push_back({p + "mlp.linear_fc1.weight", {v.intermediate_size, v.hidden_size}});
    out.push_back({p + "mlp.linear_fc1.bias", {v.intermediate_size}});
    out.push_back({p + "mlp.linear_fc2.weight", {v.hidden_size, v.intermediate_size}});
    out.push_back({p + "mlp.linear_fc2.bias", {v.hidden_size}});
  }
  merger_specs(out, vp + "merger.", v, false);
  for (size_t i = 0; i < v.deepstack_visual_indexes.size(); ++i)
    merger_specs(out, vp + "deepstack_merger_list." + std::to_string(i) + ".", v, true);

  out.push_back({"vlm.model.language_model.embed_tokens.weight", {cfg.vocab_size, cfg.text.hidden_size}});
  decoder_specs(out, "vlm.model.language_model.", cfg.text, cfg.text.num_layers);
  out.push_back({"vlm.lm_head.weight", {cfg.vocab_size, cfg.text.hidden_size}});

  decoder_specs(out, "expert.", cfg.expert, cfg.expert.num_layers);

  const ActionInProjConfig& a = cfg.action_in_proj;
  const int64_t feats = (cfg.action_dims + 1) * a.num_fourier_feats;
  // MLPEncoder trunk: Linear, SiLU, then per layer [RMSNorm, Linear(, SiLU)]: Linear at 0, 3, 6, ...
  // and RMSNorm at 2, 5, ...
  int64_t idx = 0;
  out.push_back({"action_in_proj.encoder.trunk.0.weight", {a.hidden_size, feats}});
  out.push_back({"action_in_proj.encoder.trunk.0.bias", {a.hidden_size}});
  idx = 2;
  for (int64_t l = 0; l < a.num_enc_layers; ++l) {
    const bool last = l == a.num_enc_layers - 1;
    const int64_t o = last ? cfg.expert.hidden_size : a.hidden_size;
    out.push_back({"action_in_proj.encoder.trunk." + std::to_string(idx) + ".weight", {a.hidden_size}});
    out.push_back({"action_in_proj.encoder.trunk." + std::to_string(idx + 1) + ".weight", {o, a.hidden_size}});
    out.push_back({"action_in_proj.encoder.trunk." + std::to_string(idx + 1) + ".bias", {o}});
    idx += 3;
  }
  out.push_back({"action_in_proj.norm.weight", {cfg.expert.hidden_size}});
  out.push_back({"action_in_proj.norm.bias", {cfg.expert.hidden_size}});
  out.push_back({"action_out_proj.weight", {cfg.action_dims, cfg.expert.hidden_size}});
  out.push_back({"action_out_proj.bias", {cfg.action_dims}});
  return out;
}

int64_t parameter_count(const ModelConfig& cfg) {
  int64_t n = 0;
  for (const ParamSpec& p : parameter_specs(cfg)) n += shape_numel(p.shape);
  return n;
}

}  // namespace alp::model
