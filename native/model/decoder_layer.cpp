#include "model/decoder_layer.hpp"

#include <cmath>

namespace alp::model {

Value decoder_layer(Ops& ops, const DecoderConfig& d, const std::string& p, const Value& h, const Value& cos,
                    const Value& sin, const LayerKv& kv) {
  const int64_t n = h->shape.at(0), hid = d.hidden_size, hd = d.head_dim;
  const int64_t qd = d.num_heads * hd, kvd = d.num_kv_heads * hd;
  const float eps = static_cast<float>(d.rms_norm_eps);

  Value x = ops.rms_norm(h, weight(ops, p + "input_layernorm.weight", {hid}), eps);
  Value q = ops.reshape(ops.linear(x, weight(ops, p + "self_attn.q_proj.weight", {qd, hid}), nullptr), {n, d.num_heads, hd});
  Value k = ops.reshape(ops.linear(x, weight(ops, p + "self_attn.k_proj.weight", {kvd, hid}), nullptr), {n, d.num_kv_heads, hd});
  Value v = ops.reshape(ops.linear(x, weight(ops, p + "self_attn.v_proj.weight", {kvd, hid}), nullptr), {n, d.num_kv_heads, hd});
  // Qwen3: per-head RMSNorm on q and k before the rotary embedding.
  q = ops.rope(ops.rms_norm(q, weight(ops, p + "self_attn.q_norm.weight", {hd}), eps), cos, sin);
  k = ops.rope(ops.rms_norm(k, weight(ops, p + "self_attn.k_norm.weight", {hd}), eps), cos, sin);

  Value keys = k, values = v;
  AttentionMask mask = AttentionMask::none();
  if (kv.mode == LayerKv::Mode::WriteCache) {
    ops.kv_write(kv.cache_layer, kv.pos, k, v);
    auto [ck, cv] = ops.kv_read(kv.cache_layer, kv.pos + n);
    keys = ck, values = cv;
    if (kv.causal) mask = AttentionMask::causal(kv.pos);
  } else {
    if (kv.pos > 0) {
      auto [ck, cv] = ops.kv_read(kv.cache_layer, kv.pos);
      keys = ops.concat({ck, k}, 0);
      values = ops.concat({cv, v}, 0);
    }
    if (kv.causal) mask = AttentionMask::causal(kv.pos);
  }
  Value a = ops.attention(q, keys, values, mask, static_cast<float>(std::pow(static_cast<double>(hd), -0.5)));
  a = ops.linear(ops.reshape(a, {n, qd}), weight(ops, p + "self_attn.o_proj.weight", {hid, qd}), nullptr);
  Value h1 = ops.add(h, a);

  Value y = ops.rms_norm(h1, weight(ops, p + "post_attention_layernorm.weight", {hid}), eps);
  Value gate = ops.linear(y, weight(ops, p + "mlp.gate_proj.weight", {d.intermediate_size, hid}), nullptr);
  Value up = ops.linear(y, weight(ops, p + "mlp.up_proj.weight", {d.intermediate_size, hid}), nullptr);
  Value m = ops.linear(ops.mul(ops.silu(gate), up), weight(ops, p + "mlp.down_proj.weight", {hid, d.intermediate_size}), nullptr);
  return ops.add(h1, m);
}

}  // namespace alp::model
