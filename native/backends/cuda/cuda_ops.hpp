#pragma once
// The CUDA executor of the network: alp::model::Ops on one device and one stream owned by the
// executor (one executor per planner; not thread-safe).
//
// Memory:
//   activations  fp32 in a DeviceArena (bump chunks kept across passes + free list of dropped Values),
//                so after a warm-up nothing is cudaMalloc'ed per op or per denoising step; reset()
//                drops them all between phases (a Value from before a reset() throws when used).
//   surviving    persist() copies a Value (e.g. the vision output) into its own allocation, outside
//                the arena; the KV cache is preallocated by kv_reserve, outside the arena.
//   weights      uploaded once, at first weight() or by preload(). Rank-1 weights (norms, biases) are
//                fp32 (rounded through bf16/fp16 in those modes, as the CPU executor does). Matrices:
//                fp32 -> F32; bf16/fp16 -> that type (checkpoint bytes as-is when already stored so);
//                fp8 -> the stored type (exact widening) plus, on first linear(), a per-tensor e4m3 copy
//                with scale = amax / 448, quantised on the host with the CPU executor's rule; linear()'s
//                input is round-tripped through e4m3 per tensor on the device (bit-identical rule).
//   inputs       input()/input_index() copy through pinned staging, then cudaMemcpyAsync.
// KV cache layout: per layer K and V of [kv_heads, capacity, head_dim] (head-major, the attention
// kernels' layout). kv_write transposes the [N, Hkv, D] rows in; kv_read returns a view (no copy) that
// attention() consumes directly; any other op given such a view materialises it as [len, Hkv, D].
// GEMM: cuBLASLt for bf16/fp16 weights when compiled with it and options.use_cublaslt (X is cast to
// the weight type there, so results differ from the CPU executor by that rounding); the fallback GEMM
// (fp32 activations, weights widened on load: the CPU executor's semantics) everywhere else.
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cuda/op_kernels.hpp"
#include "backends/cuda/device_arena.hpp"
#include "backends/cuda/gemm.hpp"
#include "backends/cuda/host_staging.hpp"
#include "backends/cuda/resources.hpp"
#include "core/checkpoint.hpp"
#include "core/precision.hpp"
#include "model/ops.hpp"
#include "model/param_specs.hpp"

namespace alp::cuda {

struct CudaOptions {
  Precision precision = Precision::FP32;
  int device = 0;
  size_t arena_bytes = size_t(64) << 20;    // first arena chunk; more chunks are added on demand
  size_t staging_bytes = size_t(4) << 20;   // pinned staging for input()
  bool use_cublaslt = true;                 // ignored when built without cuBLASLt
};

class CudaOps final : public model::Ops {
 public:
  // Selects options.device; throws BackendUnavailable when there is no usable device.
  explicit CudaOps(model::WeightSource weights, CudaOptions options = {});
  ~CudaOps() override;
  CudaOps(const CudaOps&) = delete;
  CudaOps& operator=(const CudaOps&) = delete;

  std::vector<float> read(std::string_view name, const model::Value& v) override;

  // Uploads every listed weight now (load time) instead of at first use.
  void preload(const std::vector<model::ParamSpec>& specs);
  // Drops every arena Value (between phases: vision, prefill, each decode step, denoising).
  void reset();
  // A copy of `v` outside the arena that survives reset().
  model::Value persist(const model::Value& v);
  // A device-resident fp32 Value over caller-owned memory (no copy; the caller keeps it alive).
  model::Value wrap_device(float* data, Shape shape);
  // The device pointer of a dense fp32 Value (throws Internal for KV views and non-fp32 weights).
  float* device_data(const model::Value& v);

  Precision precision() const { return options_.precision; }
  cudaStream_t stream() const { return stream_.get(); }
  void synchronize() const { stream_.synchronize(); }
  const std::set<std::string, std::less<>>& requested_weights() const { return requested_; }
  uint64_t weight_bytes() const { return weight_bytes_; }
  size_t arena_reserved_bytes() const { return arena_->reserved_bytes(); }

  // ---- CUDA graph support (cuda_denoise.hpp) ------------------------------------------------
  // Routes arena allocations and input staging to `arena`/`staging` while alive (a graph's private
  // memory, so replays never clash with Values of the caller). `capturing` forbids growth and syncs.
  class MemoryScope {
   public:
    MemoryScope(CudaOps& ops, std::shared_ptr<DeviceArena> arena, HostStaging* staging, bool capturing);
    ~MemoryScope();
    MemoryScope(const MemoryScope&) = delete;
    MemoryScope& operator=(const MemoryScope&) = delete;

   private:
    CudaOps& ops_;
    std::shared_ptr<DeviceArena> prev_arena_;
    HostStaging* prev_staging_;
    bool prev_capturing_;
  };
  bool capturing() const { return capturing_; }
  // Bumped by every kv_reserve: graphs captured before it read a cache that is gone.
  uint64_t kv_generation() const { return kv_generation_; }

 private:
  friend class MemoryScope;
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
  void kv_write_impl(int64_t layer, int64_t pos, const model::Value& k, const model::Value& v) override;
  std::pair<model::Value, model::Value> kv_read_impl(int64_t layer, int64_t len) override;

  model::Value alloc(Shape shape);
  // Elementwise x -> y through op_kernels' launch_unary (silu, gelu_erf, scale).
  model::Value unary(UnaryOp op, const model::Value& x, float arg, const char* name);
  // A dense fp32 token-major form of any Value (non-fp32 weights widened, KV views transposed into
  // the arena); the returned Value owns the memory and must outlive the launch that reads it.
  std::pair<model::Value, float*> dense(const model::Value& v, const char* op, const char* arg);
  // Any float Value as a kernel weight operand (weights in their stored dtype, others dense fp32).
  std::pair<model::Value, WeightRef> weight_operand(const model::Value& v, const char* op, const char* arg);
  void ensure_decode_workspace(size_t bytes);
  const void* quantised_fp8(const model::Value& w, float& scale);

  model::WeightSource source_;
  CudaOptions options_;
  Stream stream_;
  std::shared_ptr<DeviceArena> arena_;
  std::unique_ptr<HostStaging> main_staging_;
  HostStaging* staging_ = nullptr;
  bool capturing_ = false;
  PinnedBuffer read_buf_;
  DeviceBuffer decode_ws_, fp8_amax_;
#if ALPAMAYO_HAVE_CUBLASLT
  std::unique_ptr<CublasLtGemm> lt_;
#endif
  std::map<std::string, model::Value, std::less<>> weights_;
  std::set<std::string, std::less<>> requested_;
  struct Fp8Entry {
    std::shared_ptr<DeviceBuffer> data;
    float scale;
  };
  std::map<std::string, Fp8Entry, std::less<>> fp8_;
  uint64_t weight_bytes_ = 0;
  std::vector<std::shared_ptr<DeviceBuffer>> k_cache_, v_cache_;  // kv_read views share them
  int64_t kv_capacity_ = 0, kv_heads_ = 0, kv_dim_ = 0;
  uint64_t kv_generation_ = 0;
};

// The CUDA executor over a checkpoint: precision "fp32" | "bf16" | "fp16" | "fp8". Throws
// Error(BackendUnavailable, "CUDA backend requested but no CUDA device is available: <cuda error>")
// when the machine has no usable device, InvalidInput for a bad precision or device index.
std::unique_ptr<CudaOps> make_cuda_ops(std::shared_ptr<const Checkpoint> checkpoint, std::string_view precision,
                                       int device = 0);

}  // namespace alp::cuda
