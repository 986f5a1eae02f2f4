#pragma once
// The CPU reference executor: Ops evaluated eagerly in fp32 on a thread pool it owns.
// Activations: every op's output comes from a BufferPool the executor owns and goes back to it when
// its last Value goes, so steady-state plans reuse the same buffers.
// Weights: each checkpoint tensor is read (pread, see Checkpoint::read_tensor) on first use and kept:
// bf16-stored matrices as bf16 in fp32 and bf16 modes (2 bytes per parameter, widened exactly inside
// the GEMM and embedding gather), everything else converted to fp32 (4 bytes). Precision modes:
//   fp32  weights as stored (widened exactly), activations fp32;
//   bf16 / fp16  every weight rounded to that type once at conversion, activations fp32;
//   fp8   weights of linear() per-tensor e4m3 (scale = amax / 448, cached per weight), and linear()'s
//         input quantised per-tensor dynamically the same way; accumulation fp32; other weights
//         (norms, embeddings, biases) as in fp32 mode.
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cpu/buffer_pool.hpp"
#include "backends/cpu/thread_pool.hpp"
#include "core/precision.hpp"
#include "core/tensor.hpp"
#include "model/ops.hpp"

namespace alp::cpu {

// Whether a weight stored as `stored` with `rank` dims is kept in bf16 (not widened) in `precision` mode.
bool keeps_bf16(DType stored, size_t rank, Precision precision);

struct CpuOptions {
  Precision precision = Precision::FP32;
  int threads = 0;  // <= 0: all hardware threads
};

class CpuOps final : public model::Ops {
 public:
  explicit CpuOps(model::WeightSource weights, CpuOptions options = {});
  ~CpuOps() override;

  std::vector<float> read(std::string_view name, const model::Value& v) override;

  Precision precision() const { return options_.precision; }
  int threads() const { return pool_.size(); }
  // Every name weight() was asked for since construction (for the parameter_specs test).
  const std::set<std::string, std::less<>>& requested_weights() const { return requested_; }
  uint64_t weight_bytes() const;
  uint64_t cache_bytes() const;
  // Activation buffers the pool has allocated (in use or kept for the next plan).
  uint64_t activation_bytes() const { return buffers_.owned_bytes(); }
  // fp32 host copy of any value (tests; read() without naming an output).
  static std::vector<float> values(const model::Value& v);

 private:
  // ---- model::Ops: the backend behind the checked front door (shapes already validated) ----
  model::Value input_impl(std::string_view name, Shape shape, std::span<const float> data) override;
  model::Value input_index_impl(std::string_view name, Shape shape, std::span<const int64_t> data) override;
  model::Value weight_impl(std::string_view name) override;
  model::Value linear_impl(const model::Value& x, const model::Value& w, const model::Value& b, const Shape& out) override;
  model::Value rms_norm_impl(const model::Value& x, const model::Value& w, float eps) override;
  model::Value layer_norm_impl(const model::Value& x, const model::Value& w, const model::Value& b, float eps) override;
  model::Value rope_impl(const model::Value& x, const model::Value& cos, const model::Value& sin) override;
  model::Value attention_impl(const model::Value& q, const model::Value& k, const model::Value& v, model::AttentionMask mask,
                              float scale) override;
  model::Value silu_impl(const model::Value& x) override;
  model::Value gelu_tanh_impl(const model::Value& x) override;
  model::Value gelu_erf_impl(const model::Value& x) override;
  model::Value swiglu_impl(const model::Value& gate_up, const Shape& out) override;
  model::Value add_impl(const model::Value& a, const model::Value& b) override;
  model::Value mul_impl(const model::Value& a, const model::Value& b) override;
  model::Value scale_impl(const model::Value& x, float s) override;
  model::Value fourier_features_impl(const model::Value& x, std::span<const float> freqs, const Shape& out) override;
  model::Value embedding_impl(const model::Value& table, const model::Value& ids, const Shape& out) override;
  model::Value interp_rows_impl(const model::Value& table, const model::Value& idx, const model::Value& w,
                                const Shape& out) override;
  model::Value scatter_rows_impl(const model::Value& x, const model::Value& idx, const model::Value& src) override;
  model::Value index_add_rows_impl(const model::Value& x, const model::Value& idx, const model::Value& src) override;
  model::Value slice_impl(const model::Value& x, int axis, int64_t begin, int64_t end, const Shape& out) override;
  model::Value concat_impl(const std::vector<model::Value>& xs, int axis, const Shape& out) override;
  model::Value reshape_impl(const model::Value& x, const Shape& target, const Shape& out) override;
  model::Value transpose_impl(const model::Value& x, const std::vector<int>& perm, const Shape& out) override;
  model::Value expand_rows_impl(const model::Value& x, int64_t n, const Shape& out) override;
  void kv_reserve_impl(const model::KvGeometry& g) override;
  void kv_share_impl(int64_t shared, int64_t lanes) override;
  void kv_write_impl(int64_t layer, int64_t pos, const model::Value& k, const model::Value& v, int64_t lane) override;
  std::pair<model::Value, model::Value> kv_read_impl(int64_t layer, int64_t len, int64_t lane) override;

  model::WeightSource source_;
  CpuOptions options_;
  ThreadPool pool_;
  // Every op output and scratch buffer: recycled across ops and plans (see buffer_pool.hpp).
  BufferPool buffers_;
  std::map<std::string, model::Value, std::less<>> weights_;
  std::set<std::string, std::less<>> requested_;
  // Lane 0 (and the shared prefix) per layer; lanes 1.. own only positions [shared, capacity):
  // lane_k_[lane - 1][layer] holds their rows from shared on. Geometry: model::Ops::kv_geometry().
  std::vector<HostFloats> k_cache_, v_cache_;
  std::vector<std::vector<HostFloats>> lane_k_, lane_v_;
};

}  // namespace alp::cpu
