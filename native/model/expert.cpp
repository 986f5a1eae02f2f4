#include "model/expert.hpp"

#include <cmath>
#include <string>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "model/decoder_layer.hpp"
#include "model/rope_tables.hpp"

namespace alp::model {

std::vector<float> fourier_freqs(const ActionInProjConfig& a) {
  if (!a.freqs.empty()) return a.freqs;  // the checkpoint's buffers win (model/buffers.hpp)
  const int64_t half = a.num_fourier_feats / 2;
  std::vector<float> f(static_cast<size_t>(half));
  // torch.logspace(0, e, n) = 10 ** linspace(0, e, n) with torch's symmetric linspace (the first half
  // steps up from 0, the second half down from e), exponent and pow in double, rounded once to fp32:
  // torch's values bit for bit (checked for max_freq = 100 against torch in the tests).
  const double end = std::log10(a.max_freq);
  const double step = half > 1 ? end / static_cast<double>(half - 1) : 0.0;
  for (int64_t i = 0; i < half; ++i) {
    const double e = i < half / 2 ? step * static_cast<double>(i) : end - step * static_cast<double>(half - 1 - i);
    f[static_cast<size_t>(i)] = static_cast<float>(std::pow(10.0, e));
  }
  return f;
}

Value action_in_proj(Ops& ops, const ModelConfig& cfg, const Value& x, const Value& t) {
  const ActionInProjConfig& a = cfg.action_in_proj;
  const int64_t wp = cfg.action_space.n_waypoints;
  const int64_t n = x->shape.size() == 2 ? x->shape[0] : 0;
  if (x->shape.size() != 2 || x->shape[1] != cfg.action_dims || n < wp || n % wp != 0)
    fail(ErrorCode::InvalidInput, "action_in_proj: x shape " + shape_str(x->shape) + ", expected [k * " + std::to_string(wp) +
                                      ", " + std::to_string(cfg.action_dims) + "]");
  const std::vector<float> freqs = fourier_freqs(a);
  Value feats = ops.concat({ops.fourier_features(x, freqs), ops.expand_rows(ops.fourier_features(t, freqs), n)}, 1);
  const int64_t in = (cfg.action_dims + 1) * a.num_fourier_feats;
  const std::string p = "action_in_proj.encoder.trunk.";
  Value h = ops.linear(feats, weight(ops, p + "0.weight", {a.hidden_size, in}), weight(ops, p + "0.bias", {a.hidden_size}));
  h = ops.silu(h);
  int64_t idx = 2;
  for (int64_t l = 0; l < a.num_enc_layers; ++l) {
    const bool last = l == a.num_enc_layers - 1;
    const int64_t o = last ? cfg.expert.hidden_size : a.hidden_size;
    h = ops.rms_norm(h, weight(ops, p + std::to_string(idx) + ".weight", {a.hidden_size}), 1e-5f);
    h = ops.linear(h, weight(ops, p + std::to_string(idx + 1) + ".weight", {o, a.hidden_size}),
                   weight(ops, p + std::to_string(idx + 1) + ".bias", {o}));
    if (!last) h = ops.silu(h);
    idx += 3;
  }
  const int64_t eh = cfg.expert.hidden_size;
  // nn.LayerNorm default eps.
  return ops.layer_norm(h, weight(ops, "action_in_proj.norm.weight", {eh}), weight(ops, "action_in_proj.norm.bias", {eh}), 1e-5f);
}

Value expert_velocity(Ops& ops, const ModelConfig& cfg, const Value& x, const Value& t, int64_t offset, int64_t rope_delta) {
  const ExpertLane one{0, offset, rope_delta};
  return expert_velocity(ops, cfg, x, t, std::span<const ExpertLane>(&one, 1));
}

Value expert_velocity(Ops& ops, const ModelConfig& cfg, const Value& x, const Value& t, std::span<const ExpertLane> lanes) {
  const DecoderConfig& d = cfg.expert;
  const int64_t wp = cfg.action_space.n_waypoints, n = wp * static_cast<int64_t>(lanes.size());
  if (lanes.empty()) fail(ErrorCode::InvalidInput, "expert_velocity: no samples");
  if (x->shape.at(0) != n)
    fail(ErrorCode::InvalidInput, "expert_velocity: x has " + std::to_string(x->shape.at(0)) + " rows for " +
                                      std::to_string(lanes.size()) + " samples of " + std::to_string(wp));
  std::vector<KvSegment> segments;
  MropePositions pos;
  for (const ExpertLane& l : lanes) {
    if (l.offset < 1) fail(ErrorCode::InvalidInput, "expert_velocity: offset must be >= 1, got " + std::to_string(l.offset));
    segments.push_back({wp, l.lane, l.offset});
    const MropePositions p = MropePositions::uniform(l.rope_delta + l.offset, wp);
    pos.t.insert(pos.t.end(), p.t.begin(), p.t.end());
    pos.h.insert(pos.h.end(), p.h.begin(), p.h.end());
    pos.w.insert(pos.w.end(), p.w.begin(), p.w.end());
  }
  Value h = action_in_proj(ops, cfg, x, t);
  std::vector<float> cos, sin;
  mrope_tables(d, pos, cos, sin);
  Value c = ops.input("expert_rope_cos", {n, d.head_dim}, cos), s = ops.input("expert_rope_sin", {n, d.head_dim}, sin);
  for (int64_t l = 0; l < d.num_layers; ++l) {
    check_cancelled();  // within an Euler step too: a step reads the whole prefix cache per layer
    LayerKv kv{LayerKv::Mode::ReadPrefix, l, lanes[0].offset, !cfg.expert_non_causal_attention, segments};
    h = decoder_layer(ops, d, "expert.layers." + std::to_string(l) + ".", h, c, s, kv);
  }
  h = ops.rms_norm(h, weight(ops, "expert.norm.weight", {d.hidden_size}), static_cast<float>(d.rms_norm_eps));
  return ops.linear(h, weight(ops, "action_out_proj.weight", {cfg.action_dims, d.hidden_size}),
                    weight(ops, "action_out_proj.bias", {cfg.action_dims}));
}

std::vector<float> flow_time_steps(int64_t steps) {
  // torch.linspace(0, 1, steps + 1) in fp32: start + i·step for the first half, end - (n-1-i)·step after.
  const int64_t n = steps + 1;
  const float step = 1.0f / static_cast<float>(steps);
  std::vector<float> ts(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    ts[static_cast<size_t>(i)] = i < n / 2 ? step * static_cast<float>(i) : 1.0f - step * static_cast<float>(n - 1 - i);
  return ts;
}

std::vector<float> denoise(Ops& ops, const ModelConfig& cfg, std::span<const float> noise, int64_t offset, int64_t rope_delta,
                           const std::function<void()>& before_step) {
  const ExpertLane one{0, offset, rope_delta};
  return denoise(ops, cfg, noise, std::span<const ExpertLane>(&one, 1), before_step);
}

std::vector<float> denoise(Ops& ops, const ModelConfig& cfg, std::span<const float> noise, std::span<const ExpertLane> lanes,
                           const std::function<void()>& before_step) {
  const int64_t n = cfg.action_space.n_waypoints * static_cast<int64_t>(lanes.size());
  if (lanes.empty()) fail(ErrorCode::InvalidInput, "denoise: no samples");
  if (static_cast<int64_t>(noise.size()) != n * cfg.action_dims)
    fail(ErrorCode::InvalidInput, "denoise: noise has " + std::to_string(noise.size()) + " values, expected " +
                                      std::to_string(n * cfg.action_dims));
  const std::vector<float> ts = flow_time_steps(cfg.num_inference_steps);
  Value x = ops.input("noise", {n, cfg.action_dims}, noise);
  for (int64_t i = 0; i < cfg.num_inference_steps; ++i) {
    if (before_step) before_step();
    const float t0 = ts[static_cast<size_t>(i)];
    Value t = ops.input("t", {1, 1}, std::span<const float>(&t0, 1));
    Value v = expert_velocity(ops, cfg, x, t, lanes);
    x = ops.add(x, ops.scale(v, ts[static_cast<size_t>(i) + 1] - t0));
  }
  return ops.read("actions", x);
}

}  // namespace alp::model
