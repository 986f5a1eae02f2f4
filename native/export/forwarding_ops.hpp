#pragma once
// An Ops decorator that hands every call to another executor unchanged. Export tooling derives from it
// to observe a real run (activation calibration, recording a reference case) without a second copy of
// any layer: the inner executor computes, the subclass only watches the calls it overrides.
#include <utility>
#include <vector>

#include "model/ops.hpp"

namespace alp::exporter {

class ForwardingOps : public model::Ops {
 public:
  explicit ForwardingOps(model::Ops& inner) : in_(inner) {}

  model::Value input(std::string_view n, Shape s, std::span<const float> d) override { return in_.input(n, std::move(s), d); }
  model::Value input_index(std::string_view n, Shape s, std::span<const int64_t> d) override {
    return in_.input_index(n, std::move(s), d);
  }
  model::Value weight(std::string_view n, const Shape& e) override { return in_.weight(n, e); }
  std::vector<float> read(std::string_view n, const model::Value& v) override { return in_.read(n, v); }

  model::Value linear(const model::Value& x, const model::Value& w, const model::Value& b) override { return in_.linear(x, w, b); }
  model::Value rms_norm(const model::Value& x, const model::Value& w, float eps) override { return in_.rms_norm(x, w, eps); }
  model::Value layer_norm(const model::Value& x, const model::Value& w, const model::Value& b, float eps) override {
    return in_.layer_norm(x, w, b, eps);
  }
  model::Value rope(const model::Value& x, const model::Value& c, const model::Value& s) override { return in_.rope(x, c, s); }
  model::Value attention(const model::Value& q, const model::Value& k, const model::Value& v, model::AttentionMask m,
                         float scale) override {
    return in_.attention(q, k, v, m, scale);
  }
  model::Value silu(const model::Value& x) override { return in_.silu(x); }
  model::Value gelu_tanh(const model::Value& x) override { return in_.gelu_tanh(x); }
  model::Value gelu_erf(const model::Value& x) override { return in_.gelu_erf(x); }
  model::Value add(const model::Value& a, const model::Value& b) override { return in_.add(a, b); }
  model::Value mul(const model::Value& a, const model::Value& b) override { return in_.mul(a, b); }
  model::Value scale(const model::Value& x, float s) override { return in_.scale(x, s); }
  model::Value fourier_features(const model::Value& x, std::span<const float> f) override { return in_.fourier_features(x, f); }
  model::Value embedding(const model::Value& t, const model::Value& i) override { return in_.embedding(t, i); }
  model::Value interp_rows(const model::Value& t, const model::Value& i, const model::Value& w) override {
    return in_.interp_rows(t, i, w);
  }
  model::Value scatter_rows(const model::Value& x, const model::Value& i, const model::Value& s) override {
    return in_.scatter_rows(x, i, s);
  }
  model::Value index_add_rows(const model::Value& x, const model::Value& i, const model::Value& s) override {
    return in_.index_add_rows(x, i, s);
  }
  model::Value slice(const model::Value& x, int axis, int64_t b, int64_t e) override { return in_.slice(x, axis, b, e); }
  model::Value concat(const std::vector<model::Value>& xs, int axis) override { return in_.concat(xs, axis); }
  model::Value reshape(const model::Value& x, Shape s) override { return in_.reshape(x, std::move(s)); }
  model::Value transpose(const model::Value& x, std::vector<int> p) override { return in_.transpose(x, std::move(p)); }
  model::Value expand_rows(const model::Value& x, int64_t n) override { return in_.expand_rows(x, n); }

  void kv_reserve(int64_t l, int64_t c, int64_t h, int64_t d) override { in_.kv_reserve(l, c, h, d); }
  void kv_share(int64_t shared, int64_t lanes) override { in_.kv_share(shared, lanes); }
  void kv_write(int64_t l, int64_t p, const model::Value& k, const model::Value& v, int64_t lane = 0) override {
    in_.kv_write(l, p, k, v, lane);
  }
  std::pair<model::Value, model::Value> kv_read(int64_t l, int64_t len, int64_t lane = 0) override {
    return in_.kv_read(l, len, lane);
  }

 protected:
  model::Ops& inner() { return in_; }

 private:
  model::Ops& in_;
};

}  // namespace alp::exporter
