#include "model/decoder_layer.hpp"

#include <cmath>
#include <vector>

#include "core/error.hpp"

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

  const float scale = static_cast<float>(std::pow(static_cast<double>(hd), -0.5));
  // Attention of one lane's rows over that lane's cache.
  auto attend = [&](const Value& qs, const Value& ks, const Value& vs, int64_t lane, int64_t pos) {
    const int64_t rows = qs->shape.at(0);
    Value keys = ks, values = vs;
    AttentionMask mask = AttentionMask::none();
    if (kv.mode == LayerKv::Mode::WriteCache) {
      ops.kv_write(kv.cache_layer, pos, ks, vs, lane);
      auto [ck, cv] = ops.kv_read(kv.cache_layer, pos + rows, lane);
      keys = ck, values = cv;
      if (kv.causal) mask = AttentionMask::causal(pos);
    } else {
      if (pos > 0) {
        auto [ck, cv] = ops.kv_read(kv.cache_layer, pos, lane);
        keys = ops.concat({ck, ks}, 0);
        values = ops.concat({cv, vs}, 0);
      }
      if (kv.causal) mask = AttentionMask::causal(pos);
    }
    return ops.attention(qs, keys, values, mask, scale);
  };
  Value a;
  if (kv.segments.empty() || (kv.segments.size() == 1 && kv.segments[0].rows == n)) {
    const KvSegment one = kv.segments.empty() ? KvSegment{n, 0, kv.pos} : kv.segments[0];
    a = attend(q, k, v, one.lane, one.pos);
  } else {
    std::vector<Value> parts;
    int64_t r = 0;
    for (const KvSegment& seg : kv.segments) {
      parts.push_back(attend(ops.slice(q, 0, r, r + seg.rows), ops.slice(k, 0, r, r + seg.rows),
                             ops.slice(v, 0, r, r + seg.rows), seg.lane, seg.pos));
      r += seg.rows;
    }
    if (r != n)
      fail(ErrorCode::Internal, "decoder_layer: segments cover " + std::to_string(r) + " of " + std::to_string(n) + " rows");
    a = ops.concat(parts, 0);
  }
  a = ops.linear(ops.reshape(a, {n, qd}), weight(ops, p + "self_attn.o_proj.weight", {hid, qd}), nullptr);
  Value h1 = ops.add(h, a);

  Value y = ops.rms_norm(h1, weight(ops, p + "post_attention_layernorm.weight", {hid}), eps);
  Value gate = ops.linear(y, weight(ops, p + "mlp.gate_proj.weight", {d.intermediate_size, hid}), nullptr);
  Value up = ops.linear(y, weight(ops, p + "mlp.up_proj.weight", {d.intermediate_size, hid}), nullptr);
  Value m = ops.linear(ops.mul(ops.silu(gate), up), weight(ops, p + "mlp.down_proj.weight", {hid, d.intermediate_size}), nullptr);
  return ops.add(h1, m);
}

}  // namespace alp::model
