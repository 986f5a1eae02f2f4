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

class Ops {
 public:
  virtual ~Ops() = default;

  // ---- data in / out ------------------------------------------------------------------------
  // Host data for a named graph input (float / integer indices).
  virtual Value input(std::string_view name, Shape shape, std::span<const float> data) = 0;
  virtual Value input_index(std::string_view name, Shape shape, std::span<const int64_t> data) = 0;
  // Checkpoint tensor `name` in the executor's compute format (throws InvalidCheckpoint when absent or
  // when `expected` is non-empty and differs from the stored shape).
  virtual Value weight(std::string_view name, const Shape& expected) = 0;
  // Marks `v` as a graph output named `name` and returns its values on the host (fp32, row-major).
  // Executors that cannot produce values (the exporter) return an empty vector.
  virtual std::vector<float> read(std::string_view name, const Value& v) = 0;

  // ---- dense maths (fp32 semantics; precision modes change the weights/activations fed in) ----
  // y[N, M] = x[N, K] · w[M, K]ᵀ (+ b[M]); b may be null. The only op that sees quantisation.
  virtual Value linear(const Value& x, const Value& w, const Value& b) = 0;
  // Normalise over the last axis.
  virtual Value rms_norm(const Value& x, const Value& w, float eps) = 0;
  virtual Value layer_norm(const Value& x, const Value& w, const Value& b, float eps) = 0;
  // x[N, H, D] rotated with the rotate-half convention: x·cos + rotate_half(x)·sin, cos/sin [N, D].
  virtual Value rope(const Value& x, const Value& cos, const Value& sin) = 0;
  // Softmax attention with GQA: q[Nq, Hq, D], k/v[Nk, Hkv, D], Hq % Hkv == 0, query head h reads kv head
  // h / (Hq / Hkv). Returns [Nq, Hq, D]. Softmax in fp32.
  virtual Value attention(const Value& q, const Value& k, const Value& v, AttentionMask mask, float scale) = 0;

  // ---- elementwise ----------------------------------------------------------------------------
  virtual Value silu(const Value& x) = 0;
  virtual Value gelu_tanh(const Value& x) = 0;  // torch gelu(approximate="tanh")
  virtual Value gelu_erf(const Value& x) = 0;   // torch nn.GELU()
  // b has a's shape, or is a row vector ([D] / [1, D]) broadcast over a's rows.
  virtual Value add(const Value& a, const Value& b) = 0;
  virtual Value mul(const Value& a, const Value& b) = 0;
  virtual Value scale(const Value& x, float s) = 0;
  // x[N, C] -> [N, C * 2F]: per channel c, [sin(2π f_k x_c)·√2 (k<F), cos(2π f_k x_c)·√2 (k<F)].
  virtual Value fourier_features(const Value& x, std::span<const float> freqs) = 0;

  // ---- indexing / layout ----------------------------------------------------------------------
  virtual Value embedding(const Value& table, const Value& ids) = 0;  // table[V, D], ids[N] -> [N, D]
  // Σ_t w[n, t] · table[idx[n, t]]: idx/w [N, T] -> [N, D] (Gather, Mul, ReduceSum in ONNX).
  virtual Value interp_rows(const Value& table, const Value& idx, const Value& w) = 0;
  virtual Value scatter_rows(const Value& x, const Value& idx, const Value& src) = 0;    // x[idx[i]] = src[i]
  virtual Value index_add_rows(const Value& x, const Value& idx, const Value& src) = 0;  // x[idx[i]] += src[i]
  virtual Value slice(const Value& x, int axis, int64_t begin, int64_t end) = 0;
  virtual Value concat(const std::vector<Value>& xs, int axis) = 0;
  virtual Value reshape(const Value& x, Shape shape) = 0;  // one dim may be -1
  virtual Value transpose(const Value& x, std::vector<int> perm) = 0;
  virtual Value expand_rows(const Value& x, int64_t n) = 0;  // [1, D] -> [n, D]

  // ---- backbone KV cache (owned by the executor, preallocated for `capacity` positions) -------
  virtual void kv_reserve(int64_t layers, int64_t capacity, int64_t kv_heads, int64_t head_dim) = 0;
  // k/v [N, Hkv, D] written at cache positions [pos, pos + N) of `layer`.
  virtual void kv_write(int64_t layer, int64_t pos, const Value& k, const Value& v) = 0;
  // Positions [0, len) of `layer` as k/v [len, Hkv, D].
  virtual std::pair<Value, Value> kv_read(int64_t layer, int64_t len) = 0;
};

}  // namespace alp::model
