#include "backends/cpu/cpu_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "backends/cpu/cpu_kernels.hpp"
#include "core/cancel.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"

namespace alp::cpu {

using model::Value;

namespace {

using HostBf16 = std::vector<uint16_t, PageAllocator<uint16_t>>;

struct CpuValue : model::ValueImpl {
  CpuValue(Shape s, std::shared_ptr<HostFloats> d) : ValueImpl(std::move(s)), f(std::move(d)) {}
  CpuValue(Shape s, std::shared_ptr<std::vector<int64_t>> d) : ValueImpl(std::move(s)), idx(std::move(d)) {}
  CpuValue(Shape s, std::shared_ptr<const HostBf16> d) : ValueImpl(std::move(s)), bf16(std::move(d)) {}
  // A bf16-stored weight (fp32/bf16 modes) keeps only `bf16`: linear() and embedding() read it directly;
  // any other op widens it into `f` on first use (small tensors only: norms, position tables).
  mutable std::shared_ptr<HostFloats> f;
  std::shared_ptr<std::vector<int64_t>> idx;
  std::shared_ptr<const HostBf16> bf16;
  // fp8 mode: the quantise-dequantised copy of a weight, made on its first linear().
  mutable std::shared_ptr<const HostFloats> fp8;
};

Value make(Shape s, HostFloats d) {
  return std::make_shared<CpuValue>(std::move(s), std::make_shared<HostFloats>(std::move(d)));
}

// A new value of shape `s` whose zeroed storage comes from the executor's pool; ops write into `data`.
struct Output {
  Value value;
  HostFloats& data;
};
Output alloc(BufferPool& pool, Shape s) {
  BufferPool::Buffer buf = pool.acquire(static_cast<size_t>(shape_numel(s)));
  HostFloats& data = *buf;
  return {std::make_shared<CpuValue>(std::move(s), std::move(buf)), data};
}

const CpuValue& cv(const Value& v, const char* op, const char* arg) {
  auto* c = dynamic_cast<const CpuValue*>(v.get());
  if (!c) fail(ErrorCode::Internal, std::string("cpu ") + op + ": " + arg + " is null or not a CPU value");
  return *c;
}
const HostFloats& fl(const Value& v, const char* op, const char* arg) {
  const CpuValue& c = cv(v, op, arg);
  if (!c.f && c.bf16) {
    auto w = std::make_shared<HostFloats>(c.bf16->size());
    for (size_t i = 0; i < w->size(); ++i) (*w)[i] = bf16_to_f32((*c.bf16)[i]);
    c.f = std::move(w);
  }
  if (!c.f) fail(ErrorCode::Internal, std::string("cpu ") + op + ": " + arg + " is an index value, expected float");
  return *c.f;
}
const std::vector<int64_t>& ix(const Value& v, const char* op, const char* arg) {
  const CpuValue& c = cv(v, op, arg);
  if (!c.idx) fail(ErrorCode::Internal, std::string("cpu ") + op + ": " + arg + " is a float value, expected indices");
  return *c.idx;
}
int64_t last_dim(const Value& v) { return v->shape.empty() ? 1 : v->shape.back(); }

Value unary(BufferPool& pool, const Value& x, const char* op, float (*f)(float)) {
  const auto& a = fl(x, op, "x");
  auto [v, o] = alloc(pool, x->shape);
  for (size_t i = 0; i < a.size(); ++i) o[i] = f(a[i]);
  return v;
}

template <class F>
Value binary(BufferPool& pool, const Value& a, const Value& b, const char* op, F f) {
  const auto& x = fl(a, op, "a");
  const auto& y = fl(b, op, "b");
  auto [v, o] = alloc(pool, a->shape);
  // The front door allows b == a's shape or a row vector of a's last axis.
  if (y.size() == x.size()) {
    for (size_t i = 0; i < x.size(); ++i) o[i] = f(x[i], y[i]);
  } else {
    for (size_t i = 0; i < x.size(); ++i) o[i] = f(x[i], y[i % y.size()]);
  }
  return v;
}

}  // namespace

bool keeps_bf16(DType stored, size_t rank, Precision precision) {
  return stored == DType::BF16 && rank == 2 && (precision == Precision::FP32 || precision == Precision::BF16);
}

CpuOps::CpuOps(model::WeightSource weights, CpuOptions options)
    : source_(std::move(weights)), options_(options), pool_(options.threads) {}
CpuOps::~CpuOps() = default;

std::vector<float> CpuOps::values(const Value& v) {
  const CpuValue& c = cv(v, "values", "v");
  if (c.f || c.bf16) {
    const HostFloats& f = fl(v, "values", "v");
    return std::vector<float>(f.begin(), f.end());
  }
  return std::vector<float>(c.idx->begin(), c.idx->end());
}

Value CpuOps::input_impl(std::string_view, Shape shape, std::span<const float> data) {
  auto [v, o] = alloc(buffers_, std::move(shape));
  std::copy(data.begin(), data.end(), o.begin());
  return v;
}

Value CpuOps::input_index_impl(std::string_view, Shape shape, std::span<const int64_t> data) {
  return std::make_shared<CpuValue>(std::move(shape), std::make_shared<std::vector<int64_t>>(data.begin(), data.end()));
}

Value CpuOps::weight_impl(std::string_view name) {
  requested_.emplace(name);
  if (auto it = weights_.find(name); it != weights_.end()) return it->second;
  Tensor t = source_(name);
  if (t.dtype() != DType::F32 && t.dtype() != DType::BF16 && t.dtype() != DType::F16 && t.dtype() != DType::F8E4M3)
    fail(ErrorCode::InvalidCheckpoint, "tensor " + std::string(name) + ": dtype " + std::string(dtype_name(t.dtype())) + " is not a float type");
  if (keeps_bf16(t.dtype(), t.rank(), options_.precision)) {
    // Matrices stored in bf16 stay bf16 (half of an fp32 copy); widening them is exact, so fp32 and
    // bf16 modes compute the same numbers as with fp32 copies.
    auto bits = std::make_shared<HostBf16>(static_cast<size_t>(t.numel()));
    std::memcpy(bits->data(), t.data(), bits->size() * sizeof(uint16_t));
    for (size_t i = 0; i < bits->size(); ++i)
      if (!std::isfinite(bf16_to_f32((*bits)[i])))
        fail(ErrorCode::InvalidCheckpoint, "tensor " + std::string(name) + ": non-finite value " +
                                               std::to_string(bf16_to_f32((*bits)[i])) + " at element " + std::to_string(i));
    Value v = std::make_shared<CpuValue>(t.shape(), std::shared_ptr<const HostBf16>(std::move(bits)));
    weights_.emplace(std::string(name), v);
    return v;
  }
  HostFloats f(static_cast<size_t>(t.numel()));
  t.to_f32(f);
  // NaN/Inf weights would surface as a NaN trajectory (or a sampling error blaming the input); name the
  // tensor instead. One pass, once per weight.
  for (size_t i = 0; i < f.size(); ++i)
    if (!std::isfinite(f[i]))
      fail(ErrorCode::InvalidCheckpoint, "tensor " + std::string(name) + ": non-finite value " + std::to_string(f[i]) +
                                             " at element " + std::to_string(i));
  if (options_.precision == Precision::BF16)
    for (float& x : f) x = bf16_to_f32(f32_to_bf16(x));
  else if (options_.precision == Precision::FP16)
    for (float& x : f) x = f16_to_f32(f32_to_f16(x));
  Value v = make(t.shape(), std::move(f));
  weights_.emplace(std::string(name), v);
  return v;
}

std::vector<float> CpuOps::read(std::string_view, const Value& v) { return values(v); }

Value CpuOps::linear_impl(const Value& x, const Value& w, const Value& b, const Shape& out) {
  const auto& xs = fl(x, "linear", "x");
  const CpuValue& wv = cv(w, "linear", "w");
  const HostBf16* w16 = wv.bf16 && options_.precision != Precision::FP8 ? wv.bf16.get() : nullptr;
  const int64_t m = w->shape[0], k = w->shape[1];
  const int64_t n = k ? static_cast<int64_t>(xs.size()) / k : 0;
  const float* bias = b ? fl(b, "linear", "b").data() : nullptr;
  const float* wp = w16 ? nullptr : fl(w, "linear", "w").data();
  const float* xp = xs.data();
  BufferPool::Buffer xq;
  if (options_.precision == Precision::FP8) {
    const auto& ws = fl(w, "linear", "w");
    const CpuValue& wc = cv(w, "linear", "w");
    if (!wc.fp8) {
      auto q = std::make_shared<HostFloats>(ws.size());
      fp8_round_trip(ws.data(), q->data(), static_cast<int64_t>(ws.size()));
      wc.fp8 = q;
    }
    wp = wc.fp8->data();
    xq = buffers_.acquire(xs.size());
    fp8_round_trip(xs.data(), xq->data(), static_cast<int64_t>(xs.size()));
    xp = xq->data();
  }
  auto [v, y] = alloc(buffers_, out);
  if (w16)
    gemm_nt_bf16(pool_, xp, w16->data(), bias, y.data(), n, m, k);
  else
    gemm_nt(pool_, xp, wp, bias, y.data(), n, m, k);
  check_cancelled();  // gemm_nt stops early on abort; its partial output must not be used
  return v;
}

Value CpuOps::rms_norm_impl(const Value& x, const Value& w, float eps) {
  const auto& a = fl(x, "rms_norm", "x");
  const auto& g = fl(w, "rms_norm", "w");
  const int64_t d = last_dim(x);
  auto [v, o] = alloc(buffers_, x->shape);
  for (size_t r = 0; r < a.size() / d; ++r) {
    const float* xr = a.data() + r * d;
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float inv = 1.0f / std::sqrt(static_cast<float>(ss / d) + eps);
    for (int64_t i = 0; i < d; ++i) o[r * d + i] = g[i] * (xr[i] * inv);
  }
  return v;
}

Value CpuOps::layer_norm_impl(const Value& x, const Value& w, const Value& b, float eps) {
  const auto& a = fl(x, "layer_norm", "x");
  const auto& g = fl(w, "layer_norm", "w");
  const auto& be = fl(b, "layer_norm", "b");
  const int64_t d = last_dim(x);
  auto [v, o] = alloc(buffers_, x->shape);
  for (size_t r = 0; r < a.size() / d; ++r) {
    const float* xr = a.data() + r * d;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < d; ++i) mean += xr[i];
    mean /= d;
    for (int64_t i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= d;
    const float inv = 1.0f / std::sqrt(static_cast<float>(var) + eps);
    for (int64_t i = 0; i < d; ++i) o[r * d + i] = (xr[i] - static_cast<float>(mean)) * inv * g[i] + be[i];
  }
  return v;
}

Value CpuOps::rope_impl(const Value& x, const Value& cos, const Value& sin) {
  const auto& a = fl(x, "rope", "x");
  const auto& c = fl(cos, "rope", "cos");
  const auto& s = fl(sin, "rope", "sin");
  const int64_t n = x->shape[0], h = x->shape[1], d = x->shape[2], half = d / 2;
  auto [v, o] = alloc(buffers_, x->shape);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t hh = 0; hh < h; ++hh) {
      const float* xr = a.data() + (i * h + hh) * d;
      float* orow = o.data() + (i * h + hh) * d;
      const float* cr = c.data() + i * d;
      const float* sr = s.data() + i * d;
      for (int64_t e = 0; e < d; ++e) {
        const float rot = e < half ? -xr[e + half] : xr[e - half];
        orow[e] = xr[e] * cr[e] + rot * sr[e];
      }
    }
  return v;
}

Value CpuOps::attention_impl(const Value& q, const Value& k, const Value& v, model::AttentionMask mask, float scale) {
  const auto& qs = fl(q, "attention", "q");
  const auto& ks = fl(k, "attention", "k");
  const auto& vs = fl(v, "attention", "v");
  const int64_t nq = q->shape[0], hq = q->shape[1], d = q->shape[2], nk = k->shape[0], hkv = k->shape[1];
  auto [out, o] = alloc(buffers_, q->shape);
  cpu::attention(pool_, qs.data(), ks.data(), vs.data(), o.data(), nq, nk, hq, hkv, d, scale,
                 mask.kind == model::AttentionMask::Kind::Causal, mask.past);
  check_cancelled();  // as in linear()
  return out;
}

Value CpuOps::silu_impl(const Value& x) {
  return unary(buffers_, x, "silu", [](float a) { return a / (1.0f + std::exp(-a)); });
}
Value CpuOps::gelu_tanh_impl(const Value& x) {
  return unary(buffers_, x, "gelu_tanh", [](float a) {
    const float k = 0.7978845608028654f;  // sqrt(2 / pi)
    return 0.5f * a * (1.0f + std::tanh(k * (a + 0.044715f * a * a * a)));
  });
}
Value CpuOps::gelu_erf_impl(const Value& x) {
  return unary(buffers_, x, "gelu_erf", [](float a) { return 0.5f * a * (1.0f + std::erf(a * 0.7071067811865476f)); });
}
Value CpuOps::swiglu_impl(const Value& gate_up, const Shape& out) {
  const auto& a = fl(gate_up, "swiglu", "gate_up");
  const int64_t inter = out.back(), rows = inter ? shape_numel(out) / inter : 0;
  auto [v, o] = alloc(buffers_, out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < inter; ++i) {
      const float g = a[r * 2 * inter + i];
      o[r * inter + i] = (g / (1.0f + std::exp(-g))) * a[r * 2 * inter + inter + i];  // silu(g) * u, as silu() then mul()
    }
  return v;
}
Value CpuOps::add_impl(const Value& a, const Value& b) { return binary(buffers_, a, b, "add", [](float x, float y) { return x + y; }); }
Value CpuOps::mul_impl(const Value& a, const Value& b) { return binary(buffers_, a, b, "mul", [](float x, float y) { return x * y; }); }
Value CpuOps::scale_impl(const Value& x, float s) {
  const auto& a = fl(x, "scale", "x");
  auto [v, o] = alloc(buffers_, x->shape);
  for (size_t i = 0; i < a.size(); ++i) o[i] = a[i] * s;
  return v;
}

Value CpuOps::fourier_features_impl(const Value& x, std::span<const float> freqs, const Shape& out_shape) {
  const auto& a = fl(x, "fourier_features", "x");
  const int64_t n = x->shape[0], c = x->shape[1], f = static_cast<int64_t>(freqs.size());
  const float two_pi_scale = static_cast<float>(std::numbers::pi);
  const float root2 = static_cast<float>(std::numbers::sqrt2);
  auto [v, o] = alloc(buffers_, out_shape);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      float* out = o.data() + (i * c + ch) * 2 * f;
      for (int64_t k = 0; k < f; ++k) {
        // Same association as the reference: ((x * f) * 2) * pi, in fp32.
        const float arg = ((a[i * c + ch] * freqs[k]) * 2.0f) * two_pi_scale;
        out[k] = std::sin(arg) * root2;
        out[f + k] = std::cos(arg) * root2;
      }
    }
  return v;
}

Value CpuOps::embedding_impl(const Value& table, const Value& ids, const Shape& out) {
  const CpuValue& tv = cv(table, "embedding", "table");
  const auto& id = ix(ids, "embedding", "ids");
  const int64_t v = table->shape[0], d = table->shape[1];
  auto [v_out, o] = alloc(buffers_, out);
  for (size_t i = 0; i < id.size(); ++i) {
    if (id[i] < 0 || id[i] >= v) fail(ErrorCode::InvalidInput, "embedding: id " + std::to_string(id[i]) + " outside [0, " + std::to_string(v) + ")");
    if (tv.bf16 && !tv.f) {  // rows widened as they are gathered: the table itself stays bf16
      for (int64_t e = 0; e < d; ++e) o[i * d + e] = bf16_to_f32((*tv.bf16)[id[i] * d + e]);
    } else {
      std::copy_n(fl(table, "embedding", "table").data() + id[i] * d, d, o.data() + i * d);
    }
  }
  return v_out;
}

Value CpuOps::interp_rows_impl(const Value& table, const Value& idx, const Value& w, const Shape& out) {
  const auto& t = fl(table, "interp_rows", "table");
  const auto& id = ix(idx, "interp_rows", "idx");
  const auto& ws = fl(w, "interp_rows", "w");
  const int64_t n = idx->shape[0], taps = idx->shape[1], v = table->shape[0], d = table->shape[1];
  auto [v_out, o] = alloc(buffers_, out);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t tp = 0; tp < taps; ++tp) {
      const int64_t r = id[i * taps + tp];
      if (r < 0 || r >= v) fail(ErrorCode::Internal, "cpu interp_rows: row " + std::to_string(r) + " outside the table");
      for (int64_t e = 0; e < d; ++e) o[i * d + e] += t[r * d + e] * ws[i * taps + tp];
    }
  return v_out;
}

namespace {
Value row_update(BufferPool& pool, const Value& x, const Value& idx, const Value& src, const char* op, bool accumulate) {
  const auto& a = fl(x, op, "x");
  auto [v, o] = alloc(pool, x->shape);
  std::copy(a.begin(), a.end(), o.begin());
  const auto& id = ix(idx, op, "idx");
  const auto& s = fl(src, op, "src");
  const int64_t rows = x->shape[0], d = x->shape[1];
  for (size_t i = 0; i < id.size(); ++i) {
    if (id[i] < 0 || id[i] >= rows)
      fail(ErrorCode::Internal, std::string("cpu ") + op + ": row " + std::to_string(id[i]) + " outside [0, " + std::to_string(rows) + ")");
    for (int64_t e = 0; e < d; ++e) {
      float& dst = o[id[i] * d + e];
      dst = accumulate ? dst + s[i * d + e] : s[i * d + e];
    }
  }
  return v;
}
}  // namespace

Value CpuOps::scatter_rows_impl(const Value& x, const Value& idx, const Value& src) { return row_update(buffers_, x, idx, src, "scatter_rows", false); }
Value CpuOps::index_add_rows_impl(const Value& x, const Value& idx, const Value& src) { return row_update(buffers_, x, idx, src, "index_add_rows", true); }

Value CpuOps::slice_impl(const Value& x, int axis, int64_t begin, int64_t end, const Shape& out) {
  const auto& a = fl(x, "slice", "x");
  const Shape& s = x->shape;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  auto [v, o] = alloc(buffers_, out);
  for (int64_t r = 0; r < outer; ++r)
    std::copy_n(a.data() + (r * s[axis] + begin) * inner, (end - begin) * inner, o.data() + r * (end - begin) * inner);
  return v;
}

Value CpuOps::concat_impl(const std::vector<Value>& xs, int axis, const Shape& os) {
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= os[i];
  for (size_t i = axis + 1; i < os.size(); ++i) inner *= os[i];
  auto [out, o] = alloc(buffers_, os);
  int64_t off = 0;
  for (const Value& v : xs) {
    const auto& a = fl(v, "concat", "x");
    const int64_t w = v->shape[axis] * inner;
    for (int64_t r = 0; r < outer; ++r) std::copy_n(a.data() + r * w, w, o.data() + r * os[axis] * inner + off);
    off += w;
  }
  return out;
}

Value CpuOps::reshape_impl(const Value& x, const Shape&, const Shape& out) {
  const CpuValue& c = cv(x, "reshape", "x");
  // Row-major data is unchanged: share the buffer.
  if (c.bf16 && !c.f) return std::make_shared<CpuValue>(out, c.bf16);
  if (c.f) return std::make_shared<CpuValue>(out, c.f);
  return std::make_shared<CpuValue>(out, c.idx);
}

Value CpuOps::transpose_impl(const Value& x, const std::vector<int>& perm, const Shape& os) {
  const auto& a = fl(x, "transpose", "x");
  const Shape& s = x->shape;
  const size_t r = s.size();
  std::vector<int64_t> in_stride(r, 1);
  for (size_t i = r; i-- > 1;) in_stride[i - 1] = in_stride[i] * s[i];
  auto [v, o] = alloc(buffers_, os);
  std::vector<int64_t> coord(r, 0);
  for (size_t lin = 0; lin < o.size(); ++lin) {
    int64_t src = 0;
    for (size_t i = 0; i < r; ++i) src += coord[i] * in_stride[static_cast<size_t>(perm[i])];
    o[lin] = a[static_cast<size_t>(src)];
    for (size_t i = r; i-- > 0;) {
      if (++coord[i] < os[i]) break;
      coord[i] = 0;
    }
  }
  return v;
}

Value CpuOps::expand_rows_impl(const Value& x, int64_t n, const Shape& out) {
  const auto& a = fl(x, "expand_rows", "x");
  auto [v, o] = alloc(buffers_, out);
  for (int64_t i = 0; i < n; ++i) std::copy(a.begin(), a.end(), o.begin() + i * static_cast<int64_t>(a.size()));
  return v;
}

void CpuOps::kv_reserve_impl(const model::KvGeometry& g) {
  const size_t per = static_cast<size_t>(g.capacity * g.kv_heads * g.head_dim);
  k_cache_.assign(static_cast<size_t>(g.layers), HostFloats(per, 0.f));
  v_cache_.assign(static_cast<size_t>(g.layers), HostFloats(per, 0.f));
  lane_k_.clear(), lane_v_.clear();
}

void CpuOps::kv_share_impl(int64_t shared, int64_t lanes) {
  const model::KvGeometry& g = kv_geometry();
  // Private rows of lanes 1..: allocated once per (lanes, tail) and reused by later plans.
  const size_t per = static_cast<size_t>((g.capacity - shared) * g.kv_heads * g.head_dim);
  for (auto* lanes_of : {&lane_k_, &lane_v_}) {
    lanes_of->resize(static_cast<size_t>(lanes - 1));
    for (auto& layers : *lanes_of) {
      layers.resize(k_cache_.size());
      for (HostFloats& rows : layers)
        if (rows.size() < per) rows = HostFloats(per, 0.f);
    }
  }
}

void CpuOps::kv_write_impl(int64_t layer, int64_t pos, const Value& k, const Value& v, int64_t lane) {
  const auto& ks = fl(k, "kv_write", "k");
  const auto& vs = fl(v, "kv_write", "v");
  const model::KvGeometry& g = kv_geometry();
  const int64_t row = g.kv_heads * g.head_dim;
  HostFloats& kd = lane == 0 ? k_cache_[layer] : lane_k_[lane - 1][layer];
  HostFloats& vd = lane == 0 ? v_cache_[layer] : lane_v_[lane - 1][layer];
  const int64_t at = lane == 0 ? pos : pos - g.shared;
  std::copy(ks.begin(), ks.end(), kd.begin() + at * row);
  std::copy(vs.begin(), vs.end(), vd.begin() + at * row);
}

std::pair<Value, Value> CpuOps::kv_read_impl(int64_t layer, int64_t len, int64_t lane) {
  const model::KvGeometry& g = kv_geometry();
  const int64_t row = g.kv_heads * g.head_dim;
  const int64_t common = lane == 0 ? len : std::min(len, g.shared);
  auto part = [&](const HostFloats& c, const std::vector<std::vector<HostFloats>>& lanes) {
    auto [v, o] = alloc(buffers_, {len, g.kv_heads, g.head_dim});
    std::copy(c.begin(), c.begin() + common * row, o.begin());
    if (common < len) {
      const HostFloats& own = lanes[static_cast<size_t>(lane - 1)][static_cast<size_t>(layer)];
      std::copy(own.begin(), own.begin() + (len - common) * row, o.begin() + common * row);
    }
    return v;
  };
  return {part(k_cache_[layer], lane_k_), part(v_cache_[layer], lane_v_)};
}

uint64_t CpuOps::weight_bytes() const {
  uint64_t b = 0;
  for (const auto& [n, v] : weights_) {
    const CpuValue& c = cv(v, "weight_bytes", "w");
    b += (c.f ? c.f->size() * sizeof(float) : 0) + (c.bf16 ? c.bf16->size() * sizeof(uint16_t) : 0) +
         (c.fp8 ? c.fp8->size() * sizeof(float) : 0);
  }
  return b;
}
uint64_t CpuOps::cache_bytes() const {
  uint64_t b = 0;
  for (const auto& c : k_cache_) b += c.size() * sizeof(float);
  for (const auto& lane : lane_k_)
    for (const auto& c : lane) b += c.size() * sizeof(float);
  return 2 * b;
}

}  // namespace alp::cpu
