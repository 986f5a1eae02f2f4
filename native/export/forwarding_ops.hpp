#pragma once
// An Ops decorator that hands every call to another executor unchanged. Export tooling derives from it
// to observe a real run (activation calibration, recording a reference case) without a second copy of
// any layer: the inner executor computes, the subclass only watches the calls it overrides. The calls
// arrive here through this object's checked front door and go on through the inner one's.
#include <utility>
#include <vector>

#include "model/ops.hpp"

namespace alp::exporter {

class ForwardingOps : public model::Ops {
 public:
  explicit ForwardingOps(model::Ops& inner) : in_(inner) {}

  std::vector<float> read(std::string_view n, const model::Value& v) override { return in_.read(n, v); }
  // The cache is the inner executor's (it may have been reserved there before this decorator existed).
  const model::KvGeometry& kv_geometry() const override { return in_.kv_geometry(); }

 protected:
  using Value = model::Value;
  Value input_impl(std::string_view n, Shape s, std::span<const float> d) override { return in_.input(n, std::move(s), d); }
  Value input_index_impl(std::string_view n, Shape s, std::span<const int64_t> d) override {
    return in_.input_index(n, std::move(s), d);
  }
  Value weight_impl(std::string_view n) override { return in_.weight(n, {}); }
  Value linear_impl(const Value& x, const Value& w, const Value& b, const Shape&) override { return in_.linear(x, w, b); }
  Value rms_norm_impl(const Value& x, const Value& w, float eps) override { return in_.rms_norm(x, w, eps); }
  Value layer_norm_impl(const Value& x, const Value& w, const Value& b, float eps) override {
    return in_.layer_norm(x, w, b, eps);
  }
  Value rope_impl(const Value& x, const Value& c, const Value& s) override { return in_.rope(x, c, s); }
  Value attention_impl(const Value& q, const Value& k, const Value& v, model::AttentionMask m, float scale) override {
    return in_.attention(q, k, v, m, scale);
  }
  Value attention_blocks_impl(const Value& q, const Value& k, const Value& v, int64_t blocks, float scale) override {
    return in_.attention_blocks(q, k, v, blocks, scale);
  }
  Value silu_impl(const Value& x) override { return in_.silu(x); }
  Value gelu_tanh_impl(const Value& x) override { return in_.gelu_tanh(x); }
  Value gelu_erf_impl(const Value& x) override { return in_.gelu_erf(x); }
  Value swiglu_impl(const Value& x, const Shape&) override { return in_.swiglu(x); }
  Value add_impl(const Value& a, const Value& b) override { return in_.add(a, b); }
  Value mul_impl(const Value& a, const Value& b) override { return in_.mul(a, b); }
  Value scale_impl(const Value& x, float s) override { return in_.scale(x, s); }
  Value fourier_features_impl(const Value& x, std::span<const float> f, const Shape&) override {
    return in_.fourier_features(x, f);
  }
  Value embedding_impl(const Value& t, const Value& i, const Shape&) override { return in_.embedding(t, i); }
  Value interp_rows_impl(const Value& t, const Value& i, const Value& w, const Shape&) override {
    return in_.interp_rows(t, i, w);
  }
  Value scatter_rows_impl(const Value& x, const Value& i, const Value& s) override { return in_.scatter_rows(x, i, s); }
  Value index_add_rows_impl(const Value& x, const Value& i, const Value& s) override { return in_.index_add_rows(x, i, s); }
  Value slice_impl(const Value& x, int axis, int64_t b, int64_t e, const Shape&) override { return in_.slice(x, axis, b, e); }
  Value concat_impl(const std::vector<Value>& xs, int axis, const Shape&) override { return in_.concat(xs, axis); }
  Value reshape_impl(const Value& x, const Shape& target, const Shape&) override { return in_.reshape(x, target); }
  Value transpose_impl(const Value& x, const std::vector<int>& p, const Shape&) override { return in_.transpose(x, p); }
  Value expand_rows_impl(const Value& x, int64_t n, const Shape&) override { return in_.expand_rows(x, n); }

  void kv_reserve_impl(const model::KvGeometry& g) override { in_.kv_reserve(g.layers, g.capacity, g.kv_heads, g.head_dim); }
  void kv_share_impl(int64_t shared, int64_t lanes) override { in_.kv_share(shared, lanes); }
  void kv_write_impl(int64_t l, int64_t p, const Value& k, const Value& v, int64_t lane) override {
    in_.kv_write(l, p, k, v, lane);
  }
  std::pair<Value, Value> kv_read_impl(int64_t l, int64_t len, int64_t lane) override { return in_.kv_read(l, len, lane); }

  model::Ops& inner() { return in_; }

 private:
  model::Ops& in_;
};

}  // namespace alp::exporter
