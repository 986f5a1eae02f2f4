#include "export/onnx_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>

#include "core/fp8_scale.hpp"
#include "core/engine_manifest.hpp"
#include "core/error.hpp"
#include "export/symbolic_dims.hpp"
#include "export/weight_encoding.hpp"

namespace alp::exporter {

using model::Value;
using onnx::Attribute;
using onnx::ElemType;

onnx::ElemType compute_type(Precision p) {
  switch (p) {
    case Precision::FP32: return ElemType::Float;
    case Precision::BF16: return ElemType::BFloat16;
    case Precision::FP16:
    case Precision::FP8: return ElemType::Float16;  // FP8 GEMMs between fp16 activations
  }
  return ElemType::Float;
}

bool keeps_high_precision(std::string_view w) {
  return w.starts_with("vlm.model.visual.") || w == "vlm.lm_head.weight" || w.starts_with("action_in_proj.") ||
         w.starts_with("action_out_proj.");
}

namespace {

// A recorded value: an ONNX tensor name plus per-axis symbols, or a checkpoint weight that is
// written out lazily, because only its first use tells whether it feeds a MatMul (stored transposed,
// FP8-quantised) or something else (stored as is).
struct OnnxValue final : model::ValueImpl {
  OnnxValue(Shape s, std::string n, ElemType t, std::vector<SymPtr> sy)
      : ValueImpl(std::move(s)), name(std::move(n)), type(t), sym(std::move(sy)) {
    sym.resize(shape.size());
  }
  std::string name;  // empty for a weight not yet written
  ElemType type;
  std::vector<SymPtr> sym;  // per axis; null = fixed size
  std::string f32_name;     // a float graph input before its Cast to the compute type (fp32 islands read it)
  std::string weight_name;  // non-empty for checkpoint weights
  Tensor weight;
  std::map<int, std::string> written;  // WeightUse -> ONNX name
  // kv_read's result: `name` is layer `kv_layer`'s whole cache [lanes, Hkv, capacity, D] while the
  // front-door shape says [len, Hkv, D]; only attention (and the expert's concat with its own rows,
  // which sets `kv_append` [rows, Hkv, D]) may consume it.
  int64_t kv_layer = -1;
  bool kv_value = false;  // the V cache (else K)
  std::string kv_append;
};

enum WeightUse { kStored, kLinear };

OnnxValue& ov(const Value& v, const char* op, const char* arg) {
  require(v != nullptr, ErrorCode::Internal, std::string(op) + ": argument '" + arg + "' is null");
  auto* p = dynamic_cast<OnnxValue*>(v.get());
  require(p != nullptr, ErrorCode::Internal,
          std::string(op) + ": argument '" + arg + "' was not produced by OnnxOps");
  return *p;
}

}  // namespace

struct OnnxOps::Impl {
  OnnxExportOptions opt;
  model::WeightSource weights;
  SymbolTable syms;
  std::map<std::string, std::string> mask_cache;

  // In-place cache of one layer: the current K/V tensors [lanes, Hkv, capacity, D] (the past_* input,
  // or after kv_write the TensorScatter output present_*).
  struct KvLayer {
    std::string k, v;
    bool written = false;
  };
  ElemType ct = ElemType::Float;  // compute type of every activation, weight and the KV cache
  std::map<int64_t, KvLayer> kv;
  SymPtr lanes_sym;  // the caches' batch (lane) axis; their capacity axis is static (kv_reserve)
  int64_t write_pos = -1;          // trace value of kv_write_index (every lane's first written row)
  std::map<std::string, std::string> kv_bias;  // attention mask per (causal, rep), shared by layers
};

OnnxOps::OnnxOps(model::WeightSource weights, OnnxExportOptions options)
    : g_(options.path, options.graph_name, options.opset), impl_(std::make_unique<Impl>()) {
  require(static_cast<bool>(weights), ErrorCode::InvalidInput, "OnnxOps: no weight source");
  require(options.precision != Precision::FP8 || options.opset >= 19, ErrorCode::InvalidInput,
          "FP8 export needs opset >= 19 (float8 QuantizeLinear), got " + std::to_string(options.opset));
  impl_->ct = compute_type(options.precision);
  impl_->opt = std::move(options);
  impl_->weights = std::move(weights);
}

OnnxOps::~OnnxOps() = default;

// ---- helpers local to this translation unit --------------------------------------------------

namespace {

Value make_value(Shape shape, std::string name, ElemType type, std::vector<SymPtr> sym) {
  return std::make_shared<OnnxValue>(std::move(shape), std::move(name), type, std::move(sym));
}

bool is_float(ElemType t) { return t == ElemType::Float || t == ElemType::Float16 || t == ElemType::BFloat16; }

}  // namespace

// Thin wrappers so op bodies read like the maths. Defined as lambdas over g_ inside each op would be
// noisier; these are members of a local helper struct bound to the builder.
namespace {
struct Emit {
  GraphBuilder& g;
  std::string op(std::string_view t, std::vector<std::string> in, std::vector<Attribute> a = {}) {
    return g.op(t, std::move(in), std::move(a));
  }
  std::string unsqueeze(const std::string& x, std::vector<int64_t> axes) {
    return op("Unsqueeze", {x, g.const_i64_1d(axes)});
  }
  std::string slice(const std::string& x, int64_t axis, const std::string& begin, const std::string& end) {
    return op("Slice", {x, begin, end, g.const_i64_1d({axis})});
  }
  std::string reduce(std::string_view type, const std::string& x, std::vector<int64_t> axes, bool keep) {
    // ReduceMean took axes as an attribute until opset 18; ReduceSum switched at opset 13.
    if (type == "ReduceMean" && g.opset() < 18)
      return op(type, {x}, {Attribute::of_ints("axes", axes), Attribute::of_int("keepdims", keep)});
    return op(type, {x, g.const_i64_1d(axes)}, {Attribute::of_int("keepdims", keep)});
  }
  std::string cast(const std::string& x, ElemType to) {
    return op("Cast", {x}, {Attribute::of_int("to", static_cast<int64_t>(to))});
  }
};
}  // namespace

// ---- weights ----------------------------------------------------------------------------------

namespace {

// Weights are stored in the compute type (no Cast in the graph): a strongly typed TensorRT build
// keeps exactly these types. FP8 linears are float8e4m3fn Wᵀ behind DequantizeLinear, whose scale
// (and so output) is in the compute type.
std::string write_weight(GraphBuilder& g, OnnxValue& w, WeightUse use, const OnnxExportOptions& opt) {
  if (auto it = w.written.find(use); it != w.written.end()) return it->second;
  Emit e{g};
  const ElemType ct = compute_type(opt.precision);
  std::string name;
  if (use == kStored) {
    auto enc = encode_weight(w.weight, ct, false, w.weight_name);
    name = g.external_initializer(w.weight_name, enc.type, enc.dims, enc.bytes);
  } else if (opt.precision == Precision::FP8 && !keeps_high_precision(w.weight_name)) {
    auto enc = encode_weight(w.weight, ElemType::Float8E4M3FN, true, w.weight_name, ct);
    const std::string q = g.external_initializer(w.weight_name + ".T.fp8", enc.type, enc.dims, enc.bytes);
    name = e.op("DequantizeLinear", {q, g.const_scalar(ct, enc.scale)});
  } else {
    auto enc = encode_weight(w.weight, ct, true, w.weight_name);
    name = g.external_initializer(w.weight_name + ".T", enc.type, enc.dims, enc.bytes);
  }
  w.written.emplace(use, name);
  // The mmapped view is only needed until every use has been written; keep it (uses are lazy).
  return name;
}

// The ONNX name of any value (weights are written on first use, in the compute type).
std::string ref(GraphBuilder& g, OnnxValue& v, const OnnxExportOptions& opt) {
  require(v.kv_layer < 0, ErrorCode::Internal,
          "export: the KV cache view of layer " + std::to_string(v.kv_layer) + " may only feed attention (in-place cache)");
  return v.weight_name.empty() ? v.name : write_weight(g, v, kStored, opt);
}

}  // namespace

model::Value OnnxOps::weight_impl(std::string_view name) {
  Tensor t = impl_->weights(name);
  auto v = std::make_shared<OnnxValue>(t.shape(), std::string(), impl_->ct, std::vector<SymPtr>{});
  v->weight_name = std::string(name);
  v->weight = std::move(t);
  return v;
}

// ---- inputs / outputs -------------------------------------------------------------------------

namespace {

std::vector<SymPtr> input_syms(SymbolTable& syms, const OnnxExportOptions& opt, const std::string& name,
                               const Shape& shape) {
  std::vector<SymPtr> out(shape.size());
  auto it = opt.dynamic_dims.find(name);
  if (it == opt.dynamic_dims.end()) return out;
  require(it->second.size() == shape.size(), ErrorCode::InvalidInput,
          "dynamic_dims for input '" + name + "': " + std::to_string(it->second.size()) + " names for a rank-" +
              std::to_string(shape.size()) + " input");
  for (size_t a = 0; a < shape.size(); ++a) {
    const std::string& label = it->second[a];
    if (label.empty()) continue;
    require(shape[a] >= 2, ErrorCode::InvalidInput,
            "dynamic dim '" + label + "' of input '" + name + "' is traced with size " + std::to_string(shape[a]) +
                "; trace with a size >= 2 that no fixed dim of the model has");
    out[a] = syms.intern(label, name, static_cast<int>(a), shape[a]);
  }
  return out;
}

onnx::ValueInfo value_info(const std::string& name, ElemType type, const Shape& shape,
                           const std::vector<SymPtr>& sym) {
  onnx::ValueInfo vi{name, type, {}};
  for (size_t a = 0; a < shape.size(); ++a)
    vi.dims.push_back(sym[a] ? onnx::Dim{0, sym[a]->label} : onnx::Dim{shape[a], ""});
  return vi;
}

// Graph output `name` = x, as `type` (Identity, or Cast when the type changes).
void graph_output(GraphBuilder& g, const OnnxExportOptions& opt, const std::string& name, OnnxValue& x, ElemType type) {
  const std::string in = ref(g, x, opt);
  const std::string out = type == x.type ? g.add_node("Identity", {in}, {}, 1, name).front()
                                         : g.add_node("Cast", {in}, {Attribute::of_int("to", static_cast<int64_t>(type))}, 1, name).front();
  require(out == name, ErrorCode::InvalidInput, "read: output name '" + name + "' is already used in the graph");
  g.add_output(value_info(name, type, x.shape, x.sym));
}

}  // namespace

model::Value OnnxOps::input_impl(std::string_view name_sv, Shape shape, std::span<const float> data) {
  const std::string name(name_sv);
  auto sym = input_syms(impl_->syms, impl_->opt, name, shape);
  // Host tables and results cross the boundary as float32; the graph computes in its compute type.
  g_.add_input(value_info(name, ElemType::Float, shape, sym));
  samples_.emplace_back(name, Tensor::from_f32(shape, data));
  const ElemType ct = impl_->ct;
  const std::string y = ct == ElemType::Float ? name : Emit{g_}.cast(name, ct);
  auto v = std::make_shared<OnnxValue>(std::move(shape), y, ct, std::move(sym));
  v->f32_name = name;
  return v;
}

model::Value OnnxOps::input_index_impl(std::string_view name_sv, Shape shape, std::span<const int64_t> data) {
  const std::string name(name_sv);
  auto sym = input_syms(impl_->syms, impl_->opt, name, shape);
  g_.add_input(value_info(name, ElemType::Int64, shape, sym));
  Tensor t(DType::I64, shape);
  if (!data.empty()) std::memcpy(t.mutable_data(), data.data(), data.size_bytes());
  samples_.emplace_back(name, std::move(t));
  return make_value(std::move(shape), name, ElemType::Int64, std::move(sym));
}

std::vector<float> OnnxOps::read(std::string_view name_sv, const model::Value& v) {
  const std::string name(name_sv);
  auto& x = ov(v, "read", "v");
  graph_output(g_, impl_->opt, name, x, is_float(x.type) ? ElemType::Float : x.type);
  return {};
}

// ---- dense maths ------------------------------------------------------------------------------

model::Value OnnxOps::linear_impl(const model::Value& xv, const model::Value& wv, const model::Value& bv, const Shape& out) {
  auto& x = ov(xv, "linear", "x");
  auto& w = ov(wv, "linear", "w");
  Emit e{g_};
  const auto& opt = impl_->opt;
  std::string wt;
  std::string xin = ref(g_, x, opt);
  if (!w.weight_name.empty()) {
    wt = write_weight(g_, w, kLinear, opt);
    if (std::find(linear_names_.begin(), linear_names_.end(), w.weight_name) == linear_names_.end())
      linear_names_.push_back(w.weight_name);
    if (opt.precision == Precision::FP8 && !keeps_high_precision(w.weight_name)) {
      auto it = opt.activation_amax.find(w.weight_name);
      require(it != opt.activation_amax.end(), ErrorCode::InvalidInput,
              "FP8 export: no calibrated activation amax for the input of linear '" + w.weight_name + "'");
      const std::string s = g_.const_scalar(impl_->ct, scale_in(fp8_e4m3_scale(it->second), impl_->ct));
      const std::string zp = g_.const_raw(ElemType::Float8E4M3FN, std::string(1, '\0'), {}, "fp8_zero");
      xin = e.op("DequantizeLinear", {e.op("QuantizeLinear", {xin, s, zp}), s, zp});
    }
  } else {
    wt = e.op("Transpose", {w.name}, {Attribute::of_ints("perm", {1, 0})});
  }
  std::string y = e.op("MatMul", {xin, wt});
  if (bv) {
    auto& b = ov(bv, "linear", "b");
    y = e.op("Add", {y, ref(g_, b, opt)});
  }
  auto sym = x.sym;
  sym.back() = nullptr;
  return make_value(out, y, x.type, std::move(sym));
}

model::Value OnnxOps::rms_norm_impl(const model::Value& xv, const model::Value& wv, float eps) {
  auto& x = ov(xv, "rms_norm", "x");
  auto& w = ov(wv, "rms_norm", "w");
  Emit e{g_};
  // The reduction and the normalisation run in fp32 (as HF's Qwen RMSNorm); the result goes back to
  // the compute type before the weight multiplies it.
  const bool narrow = x.type != ElemType::Float;
  const std::string xn = narrow ? e.cast(ref(g_, x, impl_->opt), ElemType::Float) : ref(g_, x, impl_->opt);
  const std::string ms = e.reduce("ReduceMean", e.op("Mul", {xn, xn}), {-1}, true);
  const std::string rms = e.op("Sqrt", {e.op("Add", {ms, g_.const_scalar_f32(eps)})});
  std::string y = e.op("Div", {xn, rms});
  if (narrow) y = e.cast(y, x.type);
  y = e.op("Mul", {y, ref(g_, w, impl_->opt)});
  return make_value(x.shape, y, x.type, x.sym);
}

model::Value OnnxOps::layer_norm_impl(const model::Value& xv, const model::Value& wv, const model::Value& bv, float eps) {
  auto& x = ov(xv, "layer_norm", "x");
  auto& w = ov(wv, "layer_norm", "w");
  auto& b = ov(bv, "layer_norm", "b");
  std::vector<std::string> in{ref(g_, x, impl_->opt), ref(g_, w, impl_->opt), ref(g_, b, impl_->opt)};
  // stash_type 1 (the default): mean and variance in fp32 whatever the compute type.
  const std::string y = g_.op("LayerNormalization", in,
                              {Attribute::of_int("axis", -1), Attribute::of_float("epsilon", eps)});
  return make_value(x.shape, y, x.type, x.sym);
}

model::Value OnnxOps::rope_impl(const model::Value& xv, const model::Value& cv, const model::Value& sv) {
  auto& x = ov(xv, "rope", "x");
  auto& c = ov(cv, "rope", "cos");
  auto& s = ov(sv, "rope", "sin");
  Emit e{g_};
  const int64_t half = x.shape[2] / 2;
  const std::string xn = ref(g_, x, impl_->opt);
  const std::string x1 = e.slice(xn, 2, g_.const_i64_1d({0}), g_.const_i64_1d({half}));
  const std::string x2 = e.slice(xn, 2, g_.const_i64_1d({half}), g_.const_i64_1d({2 * half}));
  const std::string rot = e.op("Concat", {e.op("Neg", {x2}), x1}, {Attribute::of_int("axis", 2)});
  const std::string cu = e.unsqueeze(ref(g_, c, impl_->opt), {1});
  const std::string su = e.unsqueeze(ref(g_, s, impl_->opt), {1});
  const std::string y = e.op("Add", {e.op("Mul", {xn, cu}), e.op("Mul", {rot, su})});
  return make_value(x.shape, y, x.type, x.sym);
}

model::Value OnnxOps::attention_impl(const model::Value& qv, const model::Value& kv, const model::Value& vv,
                                     model::AttentionMask mask, float scale) {
  auto& q = ov(qv, "attention", "q");
  auto& k = ov(kv, "attention", "k");
  auto& v = ov(vv, "attention", "v");
  Emit e{g_};
  const int64_t hq = q.shape[1], hkv = k.shape[1], d = q.shape[2], rep = hq / hkv;
  const auto& opt = impl_->opt;
  const ElemType t = q.type;
  if (k.kv_layer >= 0) return attention_in_place(qv, kv, vv, mask, scale);
  // The form TensorRT fuses into one attention kernel (transformers-fused-attention docs): 4-D
  // [B, heads, S, D] operands, Q scaled before the first MatMul, an additive mask of the compute
  // type, Softmax, MatMul with V. GQA without copying K/V: the `rep` query heads that share a kv
  // head become extra query rows of that head, Q [1, Hkv, Nq*rep, D] (row i*rep + r = token i, head
  // j*rep + r), so K/V stay [1, Hkv, Nk, D]. Softmax stays in the compute type: the fused kernels
  // accumulate it in fp32 themselves, and a Cast around it would break the pattern.
  const std::string qs = e.op("Mul", {ref(g_, q, opt), g_.const_scalar(t, scale)});                 // [Nq, Hq, D]
  const std::string q4 = e.op("Reshape", {e.op("Transpose", {e.op("Reshape", {qs, g_.const_i64_1d({-1, hkv, rep, d})})},
                                                {Attribute::of_ints("perm", {1, 0, 2, 3})}),   // [Hkv, Nq, rep, D]
                                          g_.const_i64_1d({1, hkv, -1, d})});                   // [1, Hkv, Nq*rep, D]
  const std::string kt = e.unsqueeze(e.op("Transpose", {ref(g_, k, opt)}, {Attribute::of_ints("perm", {1, 2, 0})}), {0});  // [1, Hkv, D, Nk]
  const std::string v4 = e.unsqueeze(e.op("Transpose", {ref(g_, v, opt)}, {Attribute::of_ints("perm", {1, 0, 2})}), {0});  // [1, Hkv, Nk, D]
  std::string s = e.op("MatMul", {q4, kt});  // [1, Hkv, Nq*rep, Nk]
  if (mask.kind == model::AttentionMask::Kind::Causal) {
    // Query row i sees key j iff j <= past + i. Built in-graph from run-time sizes so one graph
    // serves every sequence and cache length.
    auto size_of = [&](const OnnxValue& x) {
      return x.sym[0] ? impl_->syms.size_tensor(g_, x.sym[0]) : g_.const_i64_1d({x.shape[0]});
    };
    const std::string nq = size_of(q), nk = size_of(k);
    std::string past;
    std::string past_key;
    if (mask.past == k.shape[0] - q.shape[0] && (q.sym[0] || k.sym[0])) {
      past = e.op("Sub", {nk, nq});
      past_key = "nk-nq";
    } else if (auto sp = impl_->syms.resolve(mask.past, "attention mask past")) {
      past = impl_->syms.size_tensor(g_, sp);
      past_key = sp->label;
    } else {
      require(!q.sym[0] && !k.sym[0], ErrorCode::InvalidInput,
              "attention: causal past " + std::to_string(mask.past) + " is neither Nk - Nq nor a dynamic size");
      past = g_.const_i64_1d({mask.past});
      past_key = std::to_string(mask.past);
    }
    const std::string key = (q.sym[0] ? q.sym[0]->label : std::to_string(q.shape[0])) + "|" +
                            (k.sym[0] ? k.sym[0]->label : std::to_string(k.shape[0])) + "|" + past_key + "|" +
                            std::to_string(rep) + "|" + std::to_string(static_cast<int>(t));
    auto it = impl_->mask_cache.find(key);
    if (it == impl_->mask_cache.end()) {
      const std::string zero = g_.const_raw(ElemType::Int64, std::string(8, '\0'), {}, "i64_zero");
      const std::string one = g_.const_i64({1}, {});
      const std::string axes0 = g_.const_i64_1d({0});
      const std::string reps = g_.const_i64({rep}, {});
      // Score row r belongs to token r / rep.
      const std::string rows = e.op("Div", {e.op("Range", {zero, e.op("Mul", {e.op("Squeeze", {nq, axes0}), reps}), one}), reps});
      const std::string cols = e.op("Range", {zero, e.op("Squeeze", {nk, axes0}), one});
      const std::string limit = e.unsqueeze(e.op("Add", {rows, past}), {1});  // [Nq*rep, 1]
      const std::string allowed = e.op("LessOrEqual", {cols, limit});           // [Nq*rep, Nk]
      const std::string bias = e.op("Where", {allowed, g_.const_scalar(t, 0.0f),
                                              g_.const_scalar(t, -std::numeric_limits<float>::infinity())});
      it = impl_->mask_cache.emplace(key, bias).first;
    }
    s = e.op("Add", {s, it->second});
  }
  const std::string p = e.op("Softmax", {s}, {Attribute::of_int("axis", -1)});
  const std::string o4 = e.op("MatMul", {p, v4});  // [1, Hkv, Nq*rep, D]
  const std::string o = e.op("Reshape", {e.op("Transpose", {e.op("Reshape", {o4, g_.const_i64_1d({hkv, -1, rep, d})})},
                                               {Attribute::of_ints("perm", {1, 0, 2, 3})}),   // [Nq, Hkv, rep, D]
                                         g_.const_i64_1d({-1, hq, d})});
  return make_value(q.shape, o, t, {q.sym[0], nullptr, nullptr});
}

namespace {
// [rows, Hkv, D] (rows lane-major: lanes x tokens) -> [lanes, Hkv, tokens, D], the TensorScatter update layout.
std::string lanes_heads_rows(GraphBuilder& g, const std::string& x, const std::string& lanes, int64_t hkv, int64_t d) {
  Emit e{g};
  const std::string shape = e.op("Concat", {lanes, g.const_i64_1d({-1, hkv, d})}, {Attribute::of_int("axis", 0)});
  return e.op("Transpose", {e.op("Reshape", {x, shape})}, {Attribute::of_ints("perm", {0, 2, 1, 3})});
}
}  // namespace

// Attention over the in-place cache: K/V are whole caches [lanes, Hkv, capacity, D] (kv_read views),
// the llm's already holding this call's rows (kv_write), the expert's getting its own rows written
// here at kv_write_index (its cache region past the prefix is scratch). Lane b's query row i (token
// i of the lane's S = rows / lanes) sees cache slots j <= wi[b] + i (causal) or j < wi[b] + S (the
// non-causal expert); slots past that hold stale or zero rows and get -inf, so the capacity is
// static and decode is graphable.
model::Value OnnxOps::attention_in_place(const model::Value& qv, const model::Value& kv_, const model::Value& vv,
                                         model::AttentionMask mask, float scale) {
  auto& I = *impl_;
  auto& q = ov(qv, "attention", "q");
  auto& k = ov(kv_, "attention", "k");
  auto& v = ov(vv, "attention", "v");
  require(v.kv_layer == k.kv_layer && v.kv_value && !k.kv_value && k.kv_append.empty() == v.kv_append.empty(),
          ErrorCode::Internal, "attention: K and V are not the K/V caches of one layer");
  Emit e{g_};
  const int64_t hq = q.shape[1], hkv = k.shape[1], d = q.shape[2], rep = hq / hkv;
  const ElemType t = q.type;
  const std::string lanes = I.syms.size_tensor(g_, I.lanes_sym);
  const bool causal = mask.kind == model::AttentionMask::Kind::Causal;
  std::string kc = k.name, vc = v.name;
  if (!k.kv_append.empty()) {
    // The expert: its rows [rows, Hkv, D] go to slots [wi, wi + S) of each lane, attended with the prefix.
    auto& L = I.kv.at(k.kv_layer);
    require(!L.written, ErrorCode::InvalidInput, "attention: layer " + std::to_string(k.kv_layer) + " cache written twice");
    auto scatter = [&](const std::string& rows, const std::string& cache, const std::string& out) {
      return g_.add_node("TensorScatter", {cache, lanes_heads_rows(g_, rows, lanes, hkv, d), engine::names::kKvWriteIndex},
                         {Attribute::of_int("axis", 2), Attribute::of_string("mode", "linear")}, 1, out).front();
    };
    kc = L.k = scatter(k.kv_append, L.k, engine::names::present_key(k.kv_layer));
    vc = L.v = scatter(v.kv_append, L.v, engine::names::present_value(k.kv_layer));
    L.written = true;
    require(!causal || mask.past == I.write_pos, ErrorCode::InvalidInput,
            "attention: causal past " + std::to_string(mask.past) + " is not the write index " + std::to_string(I.write_pos));
  } else {
    require(causal && mask.past == I.write_pos, ErrorCode::InvalidInput,
            "attention over the written cache: expected a causal mask from the write index " + std::to_string(I.write_pos));
  }
  // Q [rows, Hq, D] -> [lanes, Hkv, S*rep, D] (row s*rep + r = token s, head j*rep + r), pre-scaled.
  const std::string qs = e.op("Mul", {ref(g_, q, I.opt), g_.const_scalar(t, scale)});
  auto cat = [&](std::vector<int64_t> tail) {
    return e.op("Concat", {lanes, g_.const_i64_1d(tail)}, {Attribute::of_int("axis", 0)});
  };
  const std::string q4 = e.op("Reshape", {e.op("Transpose", {e.op("Reshape", {qs, cat({-1, hkv, rep, d})})},
                                                {Attribute::of_ints("perm", {0, 2, 1, 3, 4})}),
                                          cat({hkv, -1, d})});
  const std::string kt = e.op("Transpose", {kc}, {Attribute::of_ints("perm", {0, 1, 3, 2})});  // [lanes, Hkv, D, C]
  std::string s = e.op("MatMul", {q4, kt});                                                   // [lanes, Hkv, S*rep, C]
  const std::string key = std::string(causal ? "causal" : "full") + "|" + std::to_string(rep) + "|" + std::to_string(static_cast<int>(t));
  auto it = I.kv_bias.find(key);
  if (it == I.kv_bias.end()) {
    const std::string zero = g_.const_raw(ElemType::Int64, std::string(8, '\0'), {}, "i64_zero");
    const std::string one = g_.const_i64({1}, {});
    const std::string axes0 = g_.const_i64_1d({0});
    auto scalar = [&](const std::string& x1d) { return e.op("Squeeze", {x1d, axes0}); };
    const std::string nq = q.sym[0] ? I.syms.size_tensor(g_, q.sym[0]) : g_.const_i64_1d({q.shape[0]});
    const std::string per_lane = e.op("Div", {nq, lanes});  // S
    const std::string wi = e.op("Reshape", {engine::names::kKvWriteIndex, g_.const_i64_1d({-1, 1, 1, 1})});  // [lanes,1,1,1]
    std::string limit;
    if (causal) {
      const std::string reps = g_.const_i64({rep}, {});
      const std::string rows = e.op("Div", {e.op("Range", {zero, e.op("Mul", {scalar(per_lane), reps}), one}), reps});
      limit = e.op("Add", {wi, e.op("Reshape", {rows, g_.const_i64_1d({1, 1, -1, 1})})});  // [lanes, 1, S*rep, 1]
    } else {
      limit = e.op("Add", {wi, e.op("Sub", {per_lane, g_.const_i64_1d({1})})});  // [lanes, 1, 1, 1]
    }
    const std::string cols = e.op("Range", {zero, g_.const_i64({kv_geometry().capacity}, {}), one});
    const std::string allowed = e.op("LessOrEqual", {cols, limit});
    const std::string bias =
        e.op("Where", {allowed, g_.const_scalar(t, 0.0f), g_.const_scalar(t, -std::numeric_limits<float>::infinity())});
    it = I.kv_bias.emplace(key, bias).first;
  }
  s = e.op("Add", {s, it->second});
  const std::string p = e.op("Softmax", {s}, {Attribute::of_int("axis", -1)});
  const std::string o4 = e.op("MatMul", {p, vc});  // [lanes, Hkv, S*rep, D]
  const std::string o = e.op("Reshape", {e.op("Transpose", {e.op("Reshape", {o4, cat({hkv, -1, rep, d})})},
                                               {Attribute::of_ints("perm", {0, 2, 1, 3, 4})}),
                                         g_.const_i64_1d({-1, hq, d})});
  return make_value(q.shape, o, t, {q.sym[0], nullptr, nullptr});
}

// ---- elementwise ------------------------------------------------------------------------------

model::Value OnnxOps::silu_impl(const model::Value& xv) {
  auto& x = ov(xv, "silu", "x");
  Emit e{g_};
  const std::string xn = ref(g_, x, impl_->opt);
  return make_value(x.shape, e.op("Mul", {xn, e.op("Sigmoid", {xn})}), x.type, x.sym);
}

namespace {
// Gelu became a standard op in opset 20; below that the formula is spelt out.
std::string gelu(GraphBuilder& g, const std::string& x, ElemType t, bool tanh_approx) {
  Emit e{g};
  auto c = [&](float v) { return g.const_scalar(t, v); };
  if (g.opset() >= 20)
    return e.op("Gelu", {x}, {Attribute::of_string("approximate", tanh_approx ? "tanh" : "none")});
  std::string inner;
  if (tanh_approx) {
    const std::string x3 = e.op("Mul", {e.op("Mul", {x, x}), x});
    const std::string poly = e.op("Add", {x, e.op("Mul", {x3, c(0.044715f)})});
    inner = e.op("Tanh", {e.op("Mul", {poly, c(static_cast<float>(std::sqrt(2.0 / std::numbers::pi)))})});
  } else {
    inner = e.op("Erf", {e.op("Mul", {x, c(static_cast<float>(1.0 / std::numbers::sqrt2))})});
  }
  const std::string half_x = e.op("Mul", {x, c(0.5f)});
  return e.op("Mul", {half_x, e.op("Add", {inner, c(1.0f)})});
}
}  // namespace

model::Value OnnxOps::swiglu_impl(const model::Value& xv, const Shape& out) {
  auto& x = ov(xv, "swiglu", "gate_up");
  Emit e{g_};
  const int axis = static_cast<int>(x.shape.size()) - 1;
  const int64_t inter = out.back();
  const std::string xn = ref(g_, x, impl_->opt);
  const std::string g = e.slice(xn, axis, g_.const_i64_1d({0}), g_.const_i64_1d({inter}));
  const std::string u = e.slice(xn, axis, g_.const_i64_1d({inter}), g_.const_i64_1d({2 * inter}));
  const std::string y = e.op("Mul", {e.op("Mul", {g, e.op("Sigmoid", {g})}), u});
  return make_value(out, y, x.type, x.sym);
}

model::Value OnnxOps::gelu_tanh_impl(const model::Value& xv) {
  auto& x = ov(xv, "gelu_tanh", "x");
  return make_value(x.shape, gelu(g_, ref(g_, x, impl_->opt), x.type, true), x.type, x.sym);
}

model::Value OnnxOps::gelu_erf_impl(const model::Value& xv) {
  auto& x = ov(xv, "gelu_erf", "x");
  return make_value(x.shape, gelu(g_, ref(g_, x, impl_->opt), x.type, false), x.type, x.sym);
}

model::Value OnnxOps::add_impl(const model::Value& av, const model::Value& bv) {
  auto& a = ov(av, "add", "a");
  auto& b = ov(bv, "add", "b");
  const std::string y = g_.op("Add", {ref(g_, a, impl_->opt), ref(g_, b, impl_->opt)});
  return make_value(a.shape, y, a.type, a.sym);
}

model::Value OnnxOps::mul_impl(const model::Value& av, const model::Value& bv) {
  auto& a = ov(av, "mul", "a");
  auto& b = ov(bv, "mul", "b");
  const std::string y = g_.op("Mul", {ref(g_, a, impl_->opt), ref(g_, b, impl_->opt)});
  return make_value(a.shape, y, a.type, a.sym);
}

model::Value OnnxOps::scale_impl(const model::Value& xv, float s) {
  auto& x = ov(xv, "scale", "x");
  const std::string y = g_.op("Mul", {ref(g_, x, impl_->opt), g_.const_scalar(x.type, s)});
  return make_value(x.shape, y, x.type, x.sym);
}

model::Value OnnxOps::fourier_features_impl(const model::Value& xv, std::span<const float> freqs, const Shape& out) {
  auto& x = ov(xv, "fourier_features", "x");
  Emit e{g_};
  const int64_t f = static_cast<int64_t>(freqs.size());
  // In fp32 whatever the compute type: the arguments reach hundreds of radians, where fp16 keeps no
  // fractional bits. Back to the compute type after sin/cos.
  // A graph input is read before its Cast: rounding x to fp16 first would already cost ~0.3 rad.
  const bool narrow = x.type != ElemType::Float;
  const std::string x32 = !narrow ? ref(g_, x, impl_->opt)
                          : !x.f32_name.empty() ? x.f32_name
                                                : e.cast(ref(g_, x, impl_->opt), ElemType::Float);
  const std::string xu = e.unsqueeze(x32, {2});  // [N, C, 1]
  // (x·f)·2π with 2π rounded once to fp32: bit-identical to (x·f·2)·π since ·2 is exact.
  const std::string arg = e.op("Mul", {e.op("Mul", {xu, g_.const_f32({freqs.begin(), freqs.end()}, {f})}),
                                       g_.const_scalar_f32(2.0f * std::numbers::pi_v<float>)});
  const std::string sc = e.op("Concat", {e.op("Sin", {arg}), e.op("Cos", {arg})}, {Attribute::of_int("axis", 2)});
  std::string y = e.op("Mul", {sc, g_.const_scalar_f32(std::numbers::sqrt2_v<float>)});
  if (narrow) y = e.cast(y, x.type);
  const std::string shape = shape_tensor(g_, impl_->syms, {{out[0], x.sym[0]}, {out[1], nullptr}});
  return make_value(out, e.op("Reshape", {y, shape}), x.type,
                    {x.sym[0], nullptr});
}

// ---- indexing / layout -------------------------------------------------------------------------

namespace {
// Gather rows of `table` (a weight in the compute type, or an activation).
std::string gather_rows(GraphBuilder& g, OnnxValue& table, const std::string& idx, const OnnxExportOptions& opt) {
  Emit e{g};
  if (table.weight_name.empty()) return e.op("Gather", {table.name, idx}, {Attribute::of_int("axis", 0)});
  return e.op("Gather", {write_weight(g, table, kStored, opt), idx}, {Attribute::of_int("axis", 0)});
}
}  // namespace

model::Value OnnxOps::embedding_impl(const model::Value& tv, const model::Value& iv, const Shape& out) {
  auto& table = ov(tv, "embedding", "table");
  auto& ids = ov(iv, "embedding", "ids");
  require(ids.type == ElemType::Int64, ErrorCode::Internal, "embedding: ids must be an index value");
  const std::string y = gather_rows(g_, table, ids.name, impl_->opt);
  return make_value(out, y, table.type, {ids.sym[0], nullptr});
}

model::Value OnnxOps::interp_rows_impl(const model::Value& tv, const model::Value& iv, const model::Value& wv,
                                       const Shape& out) {
  auto& table = ov(tv, "interp_rows", "table");
  auto& idx = ov(iv, "interp_rows", "idx");
  auto& w = ov(wv, "interp_rows", "w");
  require(idx.type == ElemType::Int64, ErrorCode::Internal, "interp_rows: idx must be an index value");
  Emit e{g_};
  const std::string rows = gather_rows(g_, table, idx.name, impl_->opt);  // [N, T, D]
  const std::string wu = e.unsqueeze(ref(g_, w, impl_->opt), {2});       // [N, T, 1]
  const std::string y = e.reduce("ReduceSum", e.op("Mul", {rows, wu}), {1}, false);
  return make_value(out, y, table.type, {idx.sym[0], nullptr});
}

namespace {
model::Value scatter(GraphBuilder& g, const OnnxExportOptions& opt, const model::Value& xv, const model::Value& iv,
                     const model::Value& sv, const char* op, bool add) {
  auto& x = ov(xv, op, "x");
  auto& idx = ov(iv, op, "idx");
  auto& src = ov(sv, op, "src");
  require(idx.type == ElemType::Int64, ErrorCode::Internal, std::string(op) + ": idx must be an index value");
  Emit e{g};
  const std::string xn = ref(g, x, opt), ix = e.unsqueeze(idx.name, {1});
  std::string upd = ref(g, src, opt);
  // TensorRT's parser takes ScatterND with reduction "none" only, so x[idx] += src is spelt
  // x[idx] = x[idx] + src. Equal for distinct indices, which the callers guarantee (DeepStack adds
  // at the <|image_pad|> rows, each once).
  if (add) upd = e.op("Add", {e.op("Gather", {xn, idx.name}, {Attribute::of_int("axis", 0)}), upd});
  const std::string y = e.op("ScatterND", {xn, ix, upd});
  return make_value(x.shape, y, x.type, x.sym);
}
}  // namespace

model::Value OnnxOps::scatter_rows_impl(const model::Value& x, const model::Value& idx, const model::Value& src) {
  return scatter(g_, impl_->opt, x, idx, src, "scatter_rows", false);
}

model::Value OnnxOps::index_add_rows_impl(const model::Value& x, const model::Value& idx, const model::Value& src) {
  // The graph form (Gather + Add + ScatterND "none") is exact only for distinct rows; the traced
  // indices are the evidence available here, so a repeated one is refused rather than exported wrong.
  const std::string& idx_name = ov(idx, "index_add_rows", "idx").name;
  for (const auto& [name, t] : samples_) {
    if (name != idx_name || t.dtype() != DType::I64) continue;
    const auto* p = static_cast<const int64_t*>(t.data());
    std::vector<int64_t> rows(p, p + t.numel());
    std::sort(rows.begin(), rows.end());
    require(std::adjacent_find(rows.begin(), rows.end()) == rows.end(), ErrorCode::InvalidInput,
            "index_add_rows: index input '" + idx_name + "' repeats a row; the exported graph adds distinct rows only");
  }
  return scatter(g_, impl_->opt, x, idx, src, "index_add_rows", true);
}

model::Value OnnxOps::slice_impl(const model::Value& xv, int axis, int64_t begin, int64_t end, const Shape& out) {
  auto& x = ov(xv, "slice", "x");
  auto& syms = impl_->syms;
  const SymPtr& full = x.sym[axis];
  // A bound is dynamic when it is the whole (dynamic) axis or equals a dynamic size's trace value.
  // On a fixed axis both bounds are fixed.
  SymPtr end_sym = !full ? nullptr : end == x.shape[axis] ? full : syms.resolve(end, "slice end");
  SymPtr begin_sym = full ? syms.resolve(begin, "slice begin") : nullptr;
  // The last row of a dynamic axis (backbone logits: slice(h, 0, n - 1, n)) stays the last row at
  // any run-time size; other constant begins on a dynamic axis stay constants.
  const bool last_row = full && end == x.shape[axis] && !begin_sym && begin > 0 && end - begin == 1;
  if (last_row && axis == 0 && impl_->lanes_sym) {
    // The last row of each lane (rows are lane-major): [rows, ...] -> [lanes, ...], the lane axis
    // standing in for the 1-row axis (its trace is 1). Decode's logits of K lanes in one call.
    Emit e{g_};
    std::vector<int64_t> tail(x.shape.begin() + 1, x.shape.end());
    const std::string lanes = syms.size_tensor(g_, impl_->lanes_sym);
    std::vector<int64_t> split{-1};
    split.insert(split.end(), tail.begin(), tail.end());
    const std::string r = e.op("Reshape", {ref(g_, x, impl_->opt),
                                           e.op("Concat", {lanes, g_.const_i64_1d(split)}, {Attribute::of_int("axis", 0)})});
    const std::string y = e.op("Squeeze", {e.slice(r, 1, g_.const_i64_1d({-1}), g_.const_i64_1d({std::numeric_limits<int64_t>::max()})),
                                           g_.const_i64_1d({1})});
    auto sym = x.sym;
    sym[0] = impl_->lanes_sym;
    return make_value(out, y, x.type, std::move(sym));
  }
  const std::string b = begin_sym ? syms.size_tensor(g_, begin_sym)
                        : last_row ? g_.op("Sub", {syms.size_tensor(g_, full), g_.const_i64_1d({1})})
                                   : g_.const_i64_1d({begin});
  const std::string en = (end_sym && end_sym == full) ? g_.const_i64_1d({std::numeric_limits<int64_t>::max()})
                         : end_sym                    ? syms.size_tensor(g_, end_sym)
                                                      : g_.const_i64_1d({end});
  Emit e{g_};
  const std::string y = e.slice(ref(g_, x, impl_->opt), axis, b, en);
  auto sym = x.sym;
  if (!begin_sym && begin == 0) sym[axis] = end_sym;
  else if (last_row) sym[axis] = nullptr;
  else if (begin_sym || end_sym)
    sym[axis] = syms.intern((end_sym ? end_sym->label : std::to_string(end)) + "-" +
                                (begin_sym ? begin_sym->label : std::to_string(begin)),
                            y, axis, end - begin);
  else sym[axis] = nullptr;
  return make_value(out, y, x.type, std::move(sym));
}

model::Value OnnxOps::concat_impl(const std::vector<model::Value>& xs, int axis, const Shape& out) {
  auto& x0 = ov(xs[0], "concat", "xs[0]");
  if (x0.kv_layer >= 0) {
    // The expert's keys: the cache prefix then its own rows, written in place by attention.
    require(xs.size() == 2 && axis == 0 && ov(xs[1], "concat", "xs[1]").kv_layer < 0, ErrorCode::Internal,
            "concat: a KV cache view can only be followed by new rows on axis 0");
    auto v = std::make_shared<OnnxValue>(out, x0.name, x0.type, std::vector<SymPtr>{});
    v->kv_layer = x0.kv_layer;
    v->kv_value = x0.kv_value;
    v->kv_append = ref(g_, ov(xs[1], "concat", "xs[1]"), impl_->opt);
    return v;
  }
  std::vector<std::string> names;
  std::string label;
  bool dynamic = false;
  for (size_t i = 0; i < xs.size(); ++i) {
    auto& x = ov(xs[i], "concat", "xs[i]");
    names.push_back(ref(g_, x, impl_->opt));
    dynamic = dynamic || x.sym[axis];
    label += (i ? "+" : "") + (x.sym[axis] ? x.sym[axis]->label : std::to_string(x.shape[axis]));
  }
  const std::string y = g_.op("Concat", names, {Attribute::of_int("axis", axis)});
  auto sym = x0.sym;
  sym[axis] = dynamic ? impl_->syms.intern(label, y, axis, out[static_cast<size_t>(axis)]) : nullptr;
  return make_value(out, y, x0.type, std::move(sym));
}

model::Value OnnxOps::reshape_impl(const model::Value& xv, const Shape& target, const Shape& out) {
  auto& x = ov(xv, "reshape", "x");
  if (impl_->lanes_sym && !x.sym.empty() && x.sym[0] == impl_->lanes_sym && x.shape[0] == 1 &&
      Shape(x.shape.begin() + 1, x.shape.end()) == target) {
    // Dropping the leading 1 of a per-lane value ([1, vocab] -> [vocab]) keeps the lane axis: the
    // graph returns every lane's row.
    return make_value(x.shape, ref(g_, x, impl_->opt), x.type, x.sym);
  }
  int infer = -1;  // the front door allowed at most one -1
  for (size_t i = 0; i < target.size(); ++i)
    if (target[i] == -1) infer = static_cast<int>(i);
  // Each dynamic axis of x must reappear as a target dim of the same size, unless a -1 absorbs it.
  std::vector<SymPtr> sym(out.size());
  std::vector<SymPtr> unmatched;
  for (const auto& s : x.sym) {
    if (!s || std::find(unmatched.begin(), unmatched.end(), s) != unmatched.end()) continue;
    int hits = 0;
    for (size_t i = 0; i < target.size(); ++i)
      if (static_cast<int>(i) != infer && target[i] == s->trace && !sym[i]) {
        if (hits++ == 0) sym[i] = s;
      }
    require(hits <= 1, ErrorCode::InvalidInput,
            "reshape " + shape_str(x.shape) + " -> " + shape_str(target) + ": dynamic dim '" + s->label +
                "' (traced as " + std::to_string(s->trace) + ") matches several target dims; trace with a size no fixed dim has");
    if (hits == 0) unmatched.push_back(s);
  }
  std::vector<DimRef> dims;
  for (size_t i = 0; i < out.size(); ++i) dims.push_back({out[i], sym[i]});
  if (!unmatched.empty()) {
    require(infer >= 0, ErrorCode::InvalidInput,
            "reshape " + shape_str(x.shape) + " -> " + shape_str(target) + " would freeze dynamic dim '" +
                unmatched[0]->label + "'; keep it as a target dim or use -1");
    dims[infer] = {-1, nullptr};
  }
  // One dynamic axis can be left to Reshape's -1 inference, which keeps the shape a constant.
  int n_dyn = 0;
  for (const auto& d : dims) n_dyn += (d.sym || d.size == -1);
  std::string shape;
  if (n_dyn == 1) {
    std::vector<int64_t> fixed;
    for (const auto& d : dims) fixed.push_back(d.sym ? -1 : d.size);
    shape = g_.const_i64_1d(fixed);
  } else {
    shape = shape_tensor(g_, impl_->syms, dims);
  }
  const std::string y = g_.op("Reshape", {ref(g_, x, impl_->opt), shape});
  if (!unmatched.empty()) {
    // A new size (a product of dynamic and fixed sizes); named after the value that carries it.
    sym[infer] = impl_->syms.intern("dim(" + y + ")[" + std::to_string(infer) + "]", y, infer, out[infer]);
  }
  return make_value(out, y, x.type, std::move(sym));
}

model::Value OnnxOps::transpose_impl(const model::Value& xv, const std::vector<int>& perm, const Shape& out) {
  auto& x = ov(xv, "transpose", "x");
  std::vector<int64_t> p(perm.begin(), perm.end());
  std::vector<SymPtr> sym;
  for (int a : perm) sym.push_back(x.sym[static_cast<size_t>(a)]);
  const std::string y = g_.op("Transpose", {ref(g_, x, impl_->opt)}, {Attribute::of_ints("perm", p)});
  return make_value(out, y, x.type, std::move(sym));
}

model::Value OnnxOps::expand_rows_impl(const model::Value& xv, int64_t n, const Shape& out) {
  auto& x = ov(xv, "expand_rows", "x");
  SymPtr s = impl_->syms.resolve(n, "expand_rows n");
  // Expand broadcasts [1, D] against [n, 1].
  const std::string shape = shape_tensor(g_, impl_->syms, {{n, s}, {1, nullptr}});
  const std::string y = g_.op("Expand", {ref(g_, x, impl_->opt), shape});
  return make_value(out, y, x.type, {s, nullptr});
}

// ---- KV cache (in place, fixed capacity, lanes) --------------------------------------------------


void OnnxOps::kv_reserve_impl(const model::KvGeometry&) {}

void OnnxOps::kv_share_impl(int64_t, int64_t lanes) {
  require(lanes == 1, ErrorCode::InvalidInput,
          "kv_share: an exported graph is traced for one lane (its lane count is the run-time batch of kv_write_index), got " +
              std::to_string(lanes) + " lanes");
}

// The first KV access creates the graph inputs: kv_write_index i64 [lanes] (each lane's first row
// written by this call: the cached length) and past_key/value.<l> [lanes, Hkv, capacity, D] for every
// layer touched. `pos` is the traced write index (the same for every layer).
OnnxOps::Impl::KvLayer& kv_layer_of(OnnxOps::Impl& I, GraphBuilder& g, const model::KvGeometry& kv, int64_t layer, int64_t pos,
                                     std::vector<std::pair<std::string, Tensor>>& samples);

std::pair<model::Value, model::Value> OnnxOps::kv_read_impl(int64_t layer, int64_t len, int64_t lane) {
  auto& I = *impl_;
  require(lane == 0, ErrorCode::InvalidInput, "kv_read: an exported graph is traced for lane 0, got lane " + std::to_string(lane));
  const model::KvGeometry& kv = kv_geometry();
  auto& L = kv_layer_of(I, g_, kv, layer, len, samples_);
  require(len >= I.write_pos, ErrorCode::InvalidInput,
          "kv_read: layer " + std::to_string(layer) + " length " + std::to_string(len) + " below the write index " +
              std::to_string(I.write_pos) + " (the graph reads each lane's whole valid prefix)");
  const Shape shape{len, kv.kv_heads, kv.head_dim};
  auto k = std::make_shared<OnnxValue>(shape, L.k, I.ct, std::vector<SymPtr>{});
  auto v = std::make_shared<OnnxValue>(shape, L.v, I.ct, std::vector<SymPtr>{});
  k->kv_layer = v->kv_layer = layer;
  v->kv_value = true;
  return {k, v};
}

void OnnxOps::kv_write_impl(int64_t layer, int64_t pos, const model::Value& kv_, const model::Value& vv, int64_t lane) {
  auto& I = *impl_;
  require(lane == 0, ErrorCode::InvalidInput, "kv_write: an exported graph is traced for lane 0, got lane " + std::to_string(lane));
  const model::KvGeometry& geo = kv_geometry();
  auto& L = kv_layer_of(I, g_, geo, layer, pos, samples_);
  require(pos == I.write_pos, ErrorCode::InvalidInput,
          "kv_write: layer " + std::to_string(layer) + " written at " + std::to_string(pos) + ", the graph's write index traces " +
              std::to_string(I.write_pos));
  require(!L.written, ErrorCode::InvalidInput, "kv_write: layer " + std::to_string(layer) + " written twice in one graph");
  auto scatter = [&](const model::Value& x, const char* what, const std::string& cache, const std::string& out) {
    const std::string upd =
        lanes_heads_rows(g_, ref(g_, ov(x, "kv_write", what), I.opt), I.syms.size_tensor(g_, I.lanes_sym), geo.kv_heads, geo.head_dim);
    // TensorScatter (opset 24): out[b, :, wi[b] + s, :] = upd[b, :, s, :], TensorRT's IKVCacheUpdateLayer
    // (present aliased to past: the runner binds one address to both).
    return g_.add_node("TensorScatter", {cache, upd, engine::names::kKvWriteIndex},
                       {Attribute::of_int("axis", 2), Attribute::of_string("mode", "linear")}, 1, out).front();
  };
  L.k = scatter(kv_, "k", L.k, engine::names::present_key(layer));
  L.v = scatter(vv, "v", L.v, engine::names::present_value(layer));
  L.written = true;
}

OnnxOps::Impl::KvLayer& kv_layer_of(OnnxOps::Impl& I, GraphBuilder& g, const model::KvGeometry& kv, int64_t layer, int64_t pos,
                                     std::vector<std::pair<std::string, Tensor>>& samples) {
  namespace N = engine::names;
  require(g.opset() >= 24, ErrorCode::InvalidInput,
          "the in-place KV cache (TensorScatter) needs ONNX opset >= 24, got " + std::to_string(g.opset()));
  if (I.write_pos < 0) {
    require(kv.capacity >= 2, ErrorCode::InvalidInput, "export: kv_reserve a capacity >= 2 before tracing the KV cache");
    I.write_pos = pos;
    // The lane count is 1 in the trace, and a trace of 1 is never matched against integers (resolve()
    // takes sizes >= 2), so it can only come from here.
    I.lanes_sym = I.syms.intern("lanes", N::kKvWriteIndex, 0, 1);
    g.add_input(value_info(N::kKvWriteIndex, ElemType::Int64, {1}, {I.lanes_sym}));
    Tensor wi(DType::I64, {1});
    wi.mutable_as<int64_t>()[0] = pos;
    samples.emplace_back(N::kKvWriteIndex, std::move(wi));
  }
  auto it = I.kv.find(layer);
  if (it != I.kv.end()) return it->second;
  const std::string kname = N::past_key(layer), vname = N::past_value(layer);
  // The capacity is static: TensorRT's IKVCacheUpdateLayer needs a cache with a static sequence
  // length (docs: operators/KVCacheUpdate); the lane count stays dynamic.
  const Shape shape{1, kv.kv_heads, kv.capacity, kv.head_dim};
  const std::vector<SymPtr> sym{I.lanes_sym, nullptr, nullptr, nullptr};
  for (const auto& n : {kname, vname}) {
    g.add_input(value_info(n, I.ct, shape, sym));
    samples.emplace_back(n, Tensor(DType::F32, shape));  // an empty cache: zeros (fp32 host copy)
  }
  return I.kv.emplace(layer, OnnxOps::Impl::KvLayer{kname, vname, false}).first->second;
}

void OnnxOps::save() {
  auto& I = *impl_;
  for (auto& [layer, L] : I.kv) {
    if (!L.written) continue;
    // present_* are the TensorScatter outputs themselves (aliased to past_* by TensorRT).
    const model::KvGeometry& kv = kv_geometry();
    const Shape shape{1, kv.kv_heads, kv.capacity, kv.head_dim};
    const std::vector<SymPtr> sym{I.lanes_sym, nullptr, nullptr, nullptr};
    g_.add_output(value_info(L.k, I.ct, shape, sym));
    g_.add_output(value_info(L.v, I.ct, shape, sym));
  }
  g_.save();
}

}  // namespace alp::exporter
