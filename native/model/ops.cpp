#include "model/ops.hpp"

#include <string>

#include "core/checkpoint.hpp"
#include "core/error.hpp"

namespace alp::model {

WeightSource checkpoint_weights(std::shared_ptr<const Checkpoint> checkpoint) {
  require(checkpoint != nullptr, ErrorCode::InvalidInput, "checkpoint_weights: null checkpoint");
  return [checkpoint](std::string_view name) { return checkpoint->tensor(name); };
}

// ---- the shape rules: every backend's shapes are checked here, and only here --------------------

namespace {

// A shape violation is a bug in the network code (the caller's data is checked before it becomes a
// Value), so it is Internal on every backend.
[[noreturn]] void bad(const char* op, const std::string& what) { fail(ErrorCode::Internal, std::string(op) + ": " + what); }

const Shape& need(const Value& v, const char* op, const char* arg) {
  if (!v) bad(op, std::string("argument '") + arg + "' is null");
  return v->shape;
}

// w (a norm's gain or bias) is [D] for x[..., D].
void norm_param(const char* op, const char* arg, const Shape& x, const Value& w) {
  const Shape& ws = need(w, op, arg);
  if (x.empty() || ws != Shape{x.back()})
    bad(op, std::string(arg) + " " + shape_str(ws) + " does not match the last axis of x " + shape_str(x));
}

// b equals a, or is a row vector [D] / [1, D] broadcast over a's rows.
void broadcast(const char* op, const Value& a, const Value& b) {
  const Shape& as = need(a, op, "a");
  const Shape& bs = need(b, op, "b");
  const bool row = !as.empty() && (bs == Shape{as.back()} || bs == Shape{1, as.back()});
  if (bs != as && !row) bad(op, "b " + shape_str(bs) + " must equal a " + shape_str(as) + " or be a row vector");
}

// x[R, D], idx[M], src[M, D].
void row_update(const char* op, const Value& x, const Value& idx, const Value& src) {
  const Shape& xs = need(x, op, "x");
  const Shape& is = need(idx, op, "idx");
  const Shape& ss = need(src, op, "src");
  if (xs.size() != 2 || is.size() != 1 || ss != Shape{is[0], xs[1]})
    bad(op, "expected x[R, D], idx[M], src[M, D], got " + shape_str(xs) + ", " + shape_str(is) + ", " + shape_str(ss));
}

int normal_axis(const char* op, int axis, const Shape& s) {
  const int rank = static_cast<int>(s.size());
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) bad(op, "axis " + std::to_string(axis) + " out of range for " + shape_str(s));
  return a;
}

}  // namespace

Value Ops::input(std::string_view name, Shape shape, std::span<const float> data) {
  if (shape_numel(shape) != static_cast<int64_t>(data.size()))
    fail(ErrorCode::InvalidInput, "input " + std::string(name) + ": " + std::to_string(data.size()) + " values for shape " + shape_str(shape));
  return input_impl(name, std::move(shape), data);
}

Value Ops::input_index(std::string_view name, Shape shape, std::span<const int64_t> data) {
  if (shape_numel(shape) != static_cast<int64_t>(data.size()))
    fail(ErrorCode::InvalidInput, "input " + std::string(name) + ": " + std::to_string(data.size()) + " indices for shape " + shape_str(shape));
  return input_index_impl(name, std::move(shape), data);
}

Value Ops::weight(std::string_view name, const Shape& expected) {
  Value v = weight_impl(name);
  if (!expected.empty() && v->shape != expected)
    fail(ErrorCode::InvalidCheckpoint,
         "tensor " + std::string(name) + ": expected shape " + shape_str(expected) + ", stored " + shape_str(v->shape));
  return v;
}

Value Ops::linear(const Value& x, const Value& w, const Value& b) {
  const Shape& xs = need(x, "linear", "x");
  const Shape& ws = need(w, "linear", "w");
  if (ws.size() != 2 || xs.empty() || xs.back() != ws[1])
    bad("linear", "x " + shape_str(xs) + " does not match w " + shape_str(ws) + " (expected x[..., K], w[M, K])");
  if (b && b->shape != Shape{ws[0]}) bad("linear", "bias " + shape_str(b->shape) + " for w " + shape_str(ws));
  Shape out = xs;
  out.back() = ws[0];
  return linear_impl(x, w, b, out);
}

Value Ops::rms_norm(const Value& x, const Value& w, float eps) {
  norm_param("rms_norm", "w", need(x, "rms_norm", "x"), w);
  return rms_norm_impl(x, w, eps);
}

Value Ops::layer_norm(const Value& x, const Value& w, const Value& b, float eps) {
  const Shape& xs = need(x, "layer_norm", "x");
  norm_param("layer_norm", "w", xs, w);
  norm_param("layer_norm", "b", xs, b);
  return layer_norm_impl(x, w, b, eps);
}

Value Ops::rope(const Value& x, const Value& cos, const Value& sin) {
  const Shape& xs = need(x, "rope", "x");
  if (xs.size() != 3 || xs[2] % 2) bad("rope", "x must be [N, H, D] with even D, got " + shape_str(xs));
  const Shape cs{xs[0], xs[2]};
  if (need(cos, "rope", "cos") != cs || need(sin, "rope", "sin") != cs)
    bad("rope", "cos " + shape_str(cos->shape) + " / sin " + shape_str(sin->shape) + " must be " + shape_str(cs));
  return rope_impl(x, cos, sin);
}

Value Ops::attention(const Value& q, const Value& k, const Value& v, AttentionMask mask, float scale) {
  const Shape& qs = need(q, "attention", "q");
  const Shape& ks = need(k, "attention", "k");
  const Shape& vs = need(v, "attention", "v");
  if (qs.size() != 3 || ks.size() != 3 || ks != vs || qs[2] != ks[2] || ks[1] <= 0 || qs[1] % ks[1])
    bad("attention", "expected q[Nq, Hq, D], k/v[Nk, Hkv, D] with Hq % Hkv == 0, got q " + shape_str(qs) + ", k " +
                         shape_str(ks) + ", v " + shape_str(vs));
  if (mask.kind == AttentionMask::Kind::Causal && mask.past < 0)
    bad("attention", "causal mask with past " + std::to_string(mask.past));
  return attention_impl(q, k, v, mask, scale);
}

Value Ops::attention_blocks(const Value& q, const Value& k, const Value& v, int64_t blocks, float scale) {
  const Shape& qs = need(q, "attention_blocks", "q");
  const Shape& ks = need(k, "attention_blocks", "k");
  const Shape& vs = need(v, "attention_blocks", "v");
  if (qs.size() != 3 || qs != ks || qs != vs || blocks < 1 || qs[0] % blocks != 0)
    bad("attention_blocks", "expected q/k/v of one shape [N, H, D] with N a multiple of " + std::to_string(blocks) +
                                " blocks, got q " + shape_str(qs) + ", k " + shape_str(ks) + ", v " + shape_str(vs));
  return attention_blocks_impl(q, k, v, blocks, scale);
}

Value Ops::attention_blocks_impl(const Value& q, const Value& k, const Value& v, int64_t blocks, float scale) {
  if (blocks == 1) return attention(q, k, v, AttentionMask::none(), scale);
  const int64_t len = q->shape[0] / blocks;
  std::vector<Value> parts;
  for (int64_t b = 0; b < blocks; ++b)
    parts.push_back(attention(slice(q, 0, b * len, (b + 1) * len), slice(k, 0, b * len, (b + 1) * len),
                              slice(v, 0, b * len, (b + 1) * len), AttentionMask::none(), scale));
  return concat(parts, 0);
}

Value Ops::silu(const Value& x) {
  need(x, "silu", "x");
  return silu_impl(x);
}
Value Ops::gelu_tanh(const Value& x) {
  need(x, "gelu_tanh", "x");
  return gelu_tanh_impl(x);
}
Value Ops::gelu_erf(const Value& x) {
  need(x, "gelu_erf", "x");
  return gelu_erf_impl(x);
}
Value Ops::swiglu(const Value& gate_up) {
  const Shape& xs = need(gate_up, "swiglu", "gate_up");
  if (xs.empty() || xs.back() % 2) bad("swiglu", "gate_up must be [..., 2I], got " + shape_str(xs));
  Shape out = xs;
  out.back() /= 2;
  return swiglu_impl(gate_up, out);
}
Value Ops::scale(const Value& x, float s) {
  need(x, "scale", "x");
  return scale_impl(x, s);
}
Value Ops::add(const Value& a, const Value& b) {
  broadcast("add", a, b);
  return add_impl(a, b);
}
Value Ops::mul(const Value& a, const Value& b) {
  broadcast("mul", a, b);
  return mul_impl(a, b);
}

Value Ops::fourier_features(const Value& x, std::span<const float> freqs) {
  const Shape& xs = need(x, "fourier_features", "x");
  if (xs.size() != 2 || freqs.empty())
    bad("fourier_features", "x must be [N, C] and freqs non-empty, got x " + shape_str(xs) + ", " + std::to_string(freqs.size()) + " freqs");
  return fourier_features_impl(x, freqs, {xs[0], xs[1] * 2 * static_cast<int64_t>(freqs.size())});
}

Value Ops::embedding(const Value& table, const Value& ids) {
  const Shape& ts = need(table, "embedding", "table");
  const Shape& is = need(ids, "embedding", "ids");
  if (ts.size() != 2 || is.size() != 1) bad("embedding", "expected table[V, D] and ids[N], got " + shape_str(ts) + ", " + shape_str(is));
  return embedding_impl(table, ids, {is[0], ts[1]});
}

Value Ops::interp_rows(const Value& table, const Value& idx, const Value& w) {
  const Shape& ts = need(table, "interp_rows", "table");
  const Shape& is = need(idx, "interp_rows", "idx");
  if (ts.size() != 2 || is.size() != 2 || need(w, "interp_rows", "w") != is)
    bad("interp_rows", "expected table[V, D], idx[N, T], w[N, T], got " + shape_str(ts) + ", " + shape_str(is) + ", " + shape_str(w->shape));
  return interp_rows_impl(table, idx, w, {is[0], ts[1]});
}

Value Ops::scatter_rows(const Value& x, const Value& idx, const Value& src) {
  row_update("scatter_rows", x, idx, src);
  return scatter_rows_impl(x, idx, src);
}

Value Ops::index_add_rows(const Value& x, const Value& idx, const Value& src) {
  row_update("index_add_rows", x, idx, src);
  return index_add_rows_impl(x, idx, src);
}

Value Ops::slice(const Value& x, int axis, int64_t begin, int64_t end) {
  const Shape& xs = need(x, "slice", "x");
  const int a = normal_axis("slice", axis, xs);
  if (begin < 0 || begin > end || end > xs[static_cast<size_t>(a)])
    bad("slice", "axis " + std::to_string(axis) + " [" + std::to_string(begin) + ", " + std::to_string(end) + ") out of range for " + shape_str(xs));
  Shape out = xs;
  out[static_cast<size_t>(a)] = end - begin;
  return slice_impl(x, a, begin, end, out);
}

Value Ops::concat(const std::vector<Value>& xs, int axis) {
  if (xs.empty()) bad("concat", "no inputs");
  const Shape& first = need(xs[0], "concat", "xs[0]");
  const int a = normal_axis("concat", axis, first);
  const size_t ax = static_cast<size_t>(a);
  Shape out = first, ref = first;
  out[ax] = ref[ax] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    Shape t = need(xs[i], "concat", "xs[i]");
    if (t.size() != ref.size()) bad("concat", "xs[" + std::to_string(i) + "] " + shape_str(t) + " vs xs[0] " + shape_str(first));
    out[ax] += t[ax];
    t[ax] = 0;
    if (t != ref)
      bad("concat", "xs[" + std::to_string(i) + "] " + shape_str(xs[i]->shape) + " differs from xs[0] " + shape_str(first) +
                        " off axis " + std::to_string(a));
  }
  return concat_impl(xs, a, out);
}

Value Ops::reshape(const Value& x, Shape target) {
  const Shape& xs = need(x, "reshape", "x");
  const int64_t n = shape_numel(xs);
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      if (infer >= 0) bad("reshape", "more than one -1 in " + shape_str(target));
      infer = static_cast<int64_t>(i);
    } else if (target[i] < 0) {
      bad("reshape", "negative dim in " + shape_str(target));
    } else {
      known *= target[i];
    }
  }
  Shape out = target;
  if (infer >= 0) out[static_cast<size_t>(infer)] = known ? n / known : 0;
  if (shape_numel(out) != n) bad("reshape", shape_str(xs) + " has " + std::to_string(n) + " elements, target " + shape_str(target));
  return reshape_impl(x, target, out);
}

Value Ops::transpose(const Value& x, std::vector<int> perm) {
  const Shape& xs = need(x, "transpose", "x");
  if (perm.size() != xs.size()) bad("transpose", "perm of size " + std::to_string(perm.size()) + " for " + shape_str(xs));
  std::vector<bool> seen(perm.size(), false);
  Shape out;
  for (int p : perm) {
    if (p < 0 || p >= static_cast<int>(perm.size()) || seen[static_cast<size_t>(p)])
      bad("transpose", "perm is not a permutation of the axes of " + shape_str(xs));
    seen[static_cast<size_t>(p)] = true;
    out.push_back(xs[static_cast<size_t>(p)]);
  }
  return transpose_impl(x, perm, out);
}

Value Ops::expand_rows(const Value& x, int64_t n) {
  const Shape& xs = need(x, "expand_rows", "x");
  if (xs.size() != 2 || xs[0] != 1 || n < 0)
    bad("expand_rows", "expected x[1, D] and n >= 0, got " + shape_str(xs) + ", n=" + std::to_string(n));
  return expand_rows_impl(x, n, {n, xs[1]});
}

void Ops::kv_reserve(int64_t layers, int64_t capacity, int64_t kv_heads, int64_t head_dim) {
  if (layers <= 0 || capacity <= 0 || kv_heads <= 0 || head_dim <= 0)
    bad("kv_reserve", "layers, capacity, kv_heads and head_dim must be > 0, got " + std::to_string(layers) + ", " +
                          std::to_string(capacity) + ", " + std::to_string(kv_heads) + ", " + std::to_string(head_dim));
  const KvGeometry g{layers, capacity, kv_heads, head_dim, capacity, 1};
  kv_reserve_impl(g);
  kv_ = g;
}

void Ops::kv_share(int64_t shared, int64_t lanes) {
  KvGeometry g = kv_geometry();
  if (g.layers <= 0) bad("kv_share", "called before kv_reserve");
  if (lanes < 1 || shared < 0 || shared > g.capacity)
    bad("kv_share", "expected lanes >= 1 and 0 <= shared <= capacity " + std::to_string(g.capacity) + ", got lanes=" +
                        std::to_string(lanes) + ", shared=" + std::to_string(shared));
  kv_share_impl(shared, lanes);
  g.shared = shared;
  g.lanes = lanes;
  kv_ = g;
}

void Ops::kv_write(int64_t layer, int64_t pos, const Value& k, const Value& v, int64_t lane) {
  const KvGeometry& g = kv_geometry();
  const Shape& ks = need(k, "kv_write", "k");
  if (layer < 0 || layer >= g.layers)
    bad("kv_write", "layer " + std::to_string(layer) + " but the cache has " + std::to_string(g.layers) + " layers (kv_reserve first)");
  if (ks.size() != 3 || ks[1] != g.kv_heads || ks[2] != g.head_dim || need(v, "kv_write", "v") != ks)
    bad("kv_write", "k/v must be [N, " + std::to_string(g.kv_heads) + ", " + std::to_string(g.head_dim) + "], got " +
                        shape_str(ks) + " / " + shape_str(v->shape));
  // Past the capacity is the caller's too-long prompt or budget, not a shape bug.
  if (pos < 0 || pos + ks[0] > g.capacity)
    fail(ErrorCode::InvalidInput, "KV cache: positions [" + std::to_string(pos) + ", " + std::to_string(pos + ks[0]) +
                                      ") exceed the capacity " + std::to_string(g.capacity));
  if (lane < 0 || lane >= g.lanes || (lane > 0 && pos < g.shared))
    bad("kv_write", "lane " + std::to_string(lane) + " at position " + std::to_string(pos) + " but the cache has " +
                        std::to_string(g.lanes) + " lanes sharing positions [0, " + std::to_string(g.shared) + ")");
  kv_write_impl(layer, pos, k, v, lane);
}

std::pair<Value, Value> Ops::kv_read(int64_t layer, int64_t len, int64_t lane) {
  const KvGeometry& g = kv_geometry();
  if (layer < 0 || layer >= g.layers || len < 0 || len > g.capacity)
    bad("kv_read", "layer " + std::to_string(layer) + ", length " + std::to_string(len) + " outside the reserved " +
                       std::to_string(g.layers) + " layers x " + std::to_string(g.capacity) + " positions");
  if (lane < 0 || lane >= g.lanes)
    bad("kv_read", "lane " + std::to_string(lane) + " but the cache has " + std::to_string(g.lanes) + " lanes");
  return kv_read_impl(layer, len, lane);
}

}  // namespace alp::model
