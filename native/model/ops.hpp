#pragma once
// The backend interface the network is written against, once (like ggml). The CPU executor runs each
// call eagerly; the CUDA executor launches kernels; the ONNX exporter records a node per call. Every op
// is coarse, shape-explicit and expressible in ONNX opset 17+ with a dynamic sequence length, and
// everything that depends only on integers (positions, rope tables, masks, interpolation taps) is
// computed on the host by the model code and handed in through input()/input_index(), so every
// executor sees identical tables.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.hpp"

namespace alp {
class Checkpoint;
}

namespace alp::model {

// Where an executor's weights come from: the checkpoint in production, an in-memory map in tests.
// Returns the named tensor (any float dtype); must throw Error(InvalidCheckpoint) naming it when absent.
using WeightSource = std::function<Tensor(std::string_view name)>;
WeightSource checkpoint_weights(std::shared_ptr<const Checkpoint> checkpoint);

// A backend-owned tensor. Model code only reads `shape`; the data lives wherever the backend keeps it.
struct ValueImpl {
  explicit ValueImpl(Shape s) : shape(std::move(s)) {}
  virtual ~ValueImpl() = default;
  Shape shape;
};
using Value = std::shared_ptr<ValueImpl>;

// Which keys a query may see. `Causal`: query row i sees key j iff j <= past + i (keys [0, past) are
// the cache prefix). `None`: every key (vision within one image, the non-causal action expert).
struct AttentionMask {
  enum class Kind { None, Causal } kind = Kind::None;
  int64_t past = 0;
  static AttentionMask none() { return {}; }
  static AttentionMask causal(int64_t past) { return {Kind::Causal, past}; }
};

// The geometry kv_reserve() fixed (all zero before the first call).
// kv_share() sets `shared` and `lanes` (kv_reserve resets them to one lane owning every position).
struct KvGeometry {
  int64_t layers = 0, capacity = 0, kv_heads = 0, head_dim = 0;
  int64_t shared = 0, lanes = 1;
};

// The checked front door: every public op below validates its arguments' shapes and computes its
// output shape here, once (model/ops.cpp), then calls the backend's `*_impl` with that shape. So a
// shape mistake in model code fails the same way on every backend: Error(Internal) (a shape violation
// is a bug in the network definition, never the caller's input), naming the op and the shapes. The
// impls keep only what the front door cannot see: value kinds (float vs index), devices, index values.
class Ops {
 public:
  virtual ~Ops() = default;

  // ---- data in / out ------------------------------------------------------------------------
  // Host data for a named graph input (float / integer indices); data.size() must equal the shape's
  // element count (InvalidInput otherwise: the data comes from the caller).
  Value input(std::string_view name, Shape shape, std::span<const float> data);
  Value input_index(std::string_view name, Shape shape, std::span<const int64_t> data);
  // Checkpoint tensor `name` in the executor's compute format (throws InvalidCheckpoint when absent or
  // when `expected` is non-empty and differs from the stored shape).
  Value weight(std::string_view name, const Shape& expected);
  // Marks `v` as a graph output named `name` and returns its values on the host (fp32, row-major).
  // Executors that cannot produce values (the exporter) return an empty vector.
  virtual std::vector<float> read(std::string_view name, const Value& v) = 0;

  // ---- dense maths (fp32 semantics; precision modes change the weights/activations fed in) ----
  // y[..., M] = x[..., K] · w[M, K]ᵀ (+ b[M]); b may be null. The only op that sees quantisation.
  Value linear(const Value& x, const Value& w, const Value& b);
  // Normalise over the last axis D; w (and b) are [D].
  Value rms_norm(const Value& x, const Value& w, float eps);
  Value layer_norm(const Value& x, const Value& w, const Value& b, float eps);
  // x[N, H, D] (D even) rotated with the rotate-half convention: x·cos + rotate_half(x)·sin, cos/sin [N, D].
  Value rope(const Value& x, const Value& cos, const Value& sin);
  // Softmax attention with GQA: q[Nq, Hq, D], k/v[Nk, Hkv, D], Hq % Hkv == 0, query head h reads kv head
  // h / (Hq / Hkv). Returns [Nq, Hq, D]. Softmax in fp32.
  Value attention(const Value& q, const Value& k, const Value& v, AttentionMask mask, float scale);
  // Full (unmasked) attention within each of `blocks` equal consecutive row blocks: q/k/v [N, H, D],
  // N % blocks == 0, block b's queries read only block b's keys (the vision tower's images, one
  // block per frame). Returns [N, H, D]. Backends without a batched form run it block by block.
  Value attention_blocks(const Value& q, const Value& k, const Value& v, int64_t blocks, float scale);

  // ---- elementwise ----------------------------------------------------------------------------
  Value silu(const Value& x);
  Value gelu_tanh(const Value& x);  // torch gelu(approximate="tanh")
  Value gelu_erf(const Value& x);   // torch nn.GELU()
  // SwiGLU over a fused gate/up projection: x[..., 2I] -> [..., I], silu(x[..., :I]) * x[..., I:].
  Value swiglu(const Value& gate_up);
  // b has a's shape, or is a row vector ([D] / [1, D], D = a's last axis) broadcast over a's rows.
  Value add(const Value& a, const Value& b);
  Value mul(const Value& a, const Value& b);
  Value scale(const Value& x, float s);
  // x[N, C] -> [N, C * 2F]: per channel c, [sin(2π f_k x_c)·√2 (k<F), cos(2π f_k x_c)·√2 (k<F)]; F >= 1.
  Value fourier_features(const Value& x, std::span<const float> freqs);

  // ---- indexing / layout ----------------------------------------------------------------------
  Value embedding(const Value& table, const Value& ids);  // table[V, D], ids[N] -> [N, D]
  // Σ_t w[n, t] · table[idx[n, t]]: table[V, D], idx/w [N, T] -> [N, D] (Gather, Mul, ReduceSum in ONNX).
  Value interp_rows(const Value& table, const Value& idx, const Value& w);
  Value scatter_rows(const Value& x, const Value& idx, const Value& src);    // x[R, D], idx[M], src[M, D]: x[idx[i]] = src[i]
  Value index_add_rows(const Value& x, const Value& idx, const Value& src);  // the same with x[idx[i]] += src[i]
  // axis may be negative (from the end); 0 <= begin <= end <= x.shape[axis].
  Value slice(const Value& x, int axis, int64_t begin, int64_t end);
  Value concat(const std::vector<Value>& xs, int axis);  // equal ranks, equal dims off `axis`
  Value reshape(const Value& x, Shape shape);  // one dim may be -1; the element count is kept
  Value transpose(const Value& x, std::vector<int> perm);
  Value expand_rows(const Value& x, int64_t n);  // [1, D] -> [n, D]

  // ---- backbone KV cache (owned by the executor, preallocated for `capacity` positions) -------
  // kv_reserve leaves one lane (lane 0) owning every position.
  void kv_reserve(int64_t layers, int64_t capacity, int64_t kv_heads, int64_t head_dim);
  // Reasoning lanes (K rollouts after one prompt): positions [0, shared) stay lane 0's rows, read by
  // every lane (the prompt is computed and stored once); positions [shared, capacity) become private to
  // each of `lanes` lanes. Lane 0 keeps its rows; the other lanes' private rows start undefined.
  void kv_share(int64_t shared, int64_t lanes);
  // k/v [N, Hkv, D] written at cache positions [pos, pos + N) of `layer` in `lane` (InvalidInput past
  // capacity; a lane other than 0 writes only its private positions).
  void kv_write(int64_t layer, int64_t pos, const Value& k, const Value& v, int64_t lane = 0);
  // Positions [0, len) of `layer` as `lane` sees them, as k/v [len, Hkv, D].
  std::pair<Value, Value> kv_read(int64_t layer, int64_t len, int64_t lane = 0);
  // What kv_reserve fixed; a decorator reports the cache of the executor it forwards to.
  virtual const KvGeometry& kv_geometry() const { return kv_; }

 protected:
  // ---- the backend: called only by the front door above, with checked shapes -----------------
  // `out` is the output shape the front door computed; impls allocate exactly that.
  virtual Value input_impl(std::string_view name, Shape shape, std::span<const float> data) = 0;
  virtual Value input_index_impl(std::string_view name, Shape shape, std::span<const int64_t> data) = 0;
  // May return the stored tensor whatever its shape; the front door compares it with `expected`.
  virtual Value weight_impl(std::string_view name) = 0;
  virtual Value linear_impl(const Value& x, const Value& w, const Value& b, const Shape& out) = 0;
  virtual Value rms_norm_impl(const Value& x, const Value& w, float eps) = 0;
  virtual Value layer_norm_impl(const Value& x, const Value& w, const Value& b, float eps) = 0;
  virtual Value rope_impl(const Value& x, const Value& cos, const Value& sin) = 0;
  virtual Value attention_impl(const Value& q, const Value& k, const Value& v, AttentionMask mask, float scale) = 0;
  // Default: one attention() per block through this object's front door, concatenated.
  virtual Value attention_blocks_impl(const Value& q, const Value& k, const Value& v, int64_t blocks, float scale);
  virtual Value silu_impl(const Value& x) = 0;
  virtual Value gelu_tanh_impl(const Value& x) = 0;
  virtual Value gelu_erf_impl(const Value& x) = 0;
  virtual Value swiglu_impl(const Value& gate_up, const Shape& out) = 0;
  virtual Value add_impl(const Value& a, const Value& b) = 0;
  virtual Value mul_impl(const Value& a, const Value& b) = 0;
  virtual Value scale_impl(const Value& x, float s) = 0;
  virtual Value fourier_features_impl(const Value& x, std::span<const float> freqs, const Shape& out) = 0;
  virtual Value embedding_impl(const Value& table, const Value& ids, const Shape& out) = 0;
  virtual Value interp_rows_impl(const Value& table, const Value& idx, const Value& w, const Shape& out) = 0;
  virtual Value scatter_rows_impl(const Value& x, const Value& idx, const Value& src) = 0;
  virtual Value index_add_rows_impl(const Value& x, const Value& idx, const Value& src) = 0;
  // `axis` is normalised to [0, rank).
  virtual Value slice_impl(const Value& x, int axis, int64_t begin, int64_t end, const Shape& out) = 0;
  virtual Value concat_impl(const std::vector<Value>& xs, int axis, const Shape& out) = 0;
  // `target` as asked (may hold -1), `out` resolved.
  virtual Value reshape_impl(const Value& x, const Shape& target, const Shape& out) = 0;
  virtual Value transpose_impl(const Value& x, const std::vector<int>& perm, const Shape& out) = 0;
  virtual Value expand_rows_impl(const Value& x, int64_t n, const Shape& out) = 0;
  virtual void kv_reserve_impl(const KvGeometry& g) = 0;
  virtual void kv_share_impl(int64_t shared, int64_t lanes) = 0;
  virtual void kv_write_impl(int64_t layer, int64_t pos, const Value& k, const Value& v, int64_t lane) = 0;
  virtual std::pair<Value, Value> kv_read_impl(int64_t layer, int64_t len, int64_t lane) = 0;

 private:
  KvGeometry kv_;
};

}  // namespace alp::model
