#pragma once
// The CUDA executor of the network: alp::model::Ops on one device and one stream owned by the
// executor (one executor per planner; not thread-safe).
//
// Memory:
//   activations  fp32 in a DeviceArena (bump chunks kept across passes, freed neighbours merged, and
//                the whole arena rewound whenever the last Value of a phase is dropped), so after a
//                warm-up nothing is cudaMalloc'ed per op or per denoising step and mixed phases do not
//                fragment it; reset() drops them all at once (a Value from before a reset() throws).
//   surviving    persist() copies a Value (e.g. the vision output) into its own allocation, outside
//                the arena; the KV cache is preallocated by kv_reserve, outside the arena.
//   weights      uploaded once, at first weight() or by preload(), as the checkpoint stores them and
//                converted on the device. Rank-1 weights (norms, biases) are fp32 (rounded through
//                bf16/fp16 in those modes, as the CPU executor does). Matrices: fp32 -> F32; bf16/fp16
//                -> that type; fp8 -> per-tensor e4m3 with scale = amax / 448 (the CPU executor's rule),
//                quantised on the device at load with the scale kept on the device too; no copy in the
//                stored type is kept. Lookup tables (token embeddings, position embeddings) are never
//                quantised (the CPU executor quantises only linear() operands). linear()'s input is
//                quantised per tensor on the device (scale a device value, no host sync).
//   inputs       input()/input_index() copy through pinned staging, then cudaMemcpyAsync.
// KV cache layout: per layer K and V of [kv_heads, capacity, head_dim] (head-major, the attention
// kernels' layout). kv_write transposes the [N, Hkv, D] rows in; kv_read returns a view (no copy) that
// attention() consumes directly; any other op given such a view materialises it as [len, Hkv, D].
// GEMM: cuBLASLt for bf16/fp16/fp8 weights when compiled with it, libcublasLt opens and
// options.use_cublaslt (X is narrowed to the weight type there, so bf16/fp16 results differ from the
// CPU executor by that rounding); the fallback GEMM (fp32 activations, weights widened on load: the CPU
// executor's semantics) everywhere else. Attention: cuDNN SDPA (cudnn_sdpa.hpp) for bf16/fp16/fp8 runs
// when cuDNN opens (q, k, v narrowed to bf16 per call: the KV cache is still fp32), the built-in
// fp32 kernels otherwise and for masks cuDNN does not express. libraries() says which.
// Threads: every entry point binds options.device to the calling thread first (a planner is made on
// one thread, runs on worker threads and is destroyed on the JS thread).
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
  size_t max_graphs = 4;                    // captured denoise loops kept (least recently used evicted)
  bool fuse_projections = true;             // bf16/fp16 + cuBLASLt: q|k|v and gate|up as one GEMM each
  bool use_cudnn = true;                    // cuDNN SDPA for bf16/fp16/fp8 runs, where cuDNN opens
};

class CudnnSdpa;  // cudnn_sdpa.hpp

class CudaOps final : public model::Ops {
 public:
  // Selects options.device; throws BackendUnavailable when there is no usable device.
  explicit CudaOps(model::WeightSource weights, CudaOptions options = {});
  ~CudaOps() override;
  CudaOps(const CudaOps&) = delete;
  CudaOps& operator=(const CudaOps&) = delete;

  std::vector<float> read(std::string_view name, const model::Value& v) override;

  // Uploads every listed weight now (load time) instead of at first use; then, in bf16/fp16 runs with
  // cuBLASLt, packs each layer's q/k/v and gate/up matrices into one matrix per group (the members
  // become row slices of it), so linear() on the same input runs one GEMM per group.
  void preload(const std::vector<model::ParamSpec>& specs);
  // GEMMs that served a linear() from an earlier fused GEMM (for tests and bench).
  uint64_t fused_hits() const { return fused_hits_; }
  // Drops every arena Value (between phases: vision, prefill, each decode step, denoising).
  void reset();
  // A copy of `v` outside the arena that survives reset().
  model::Value persist(const model::Value& v);
  // A fresh arena Value of `shape` and its device pointer, for producers outside the Ops interface
  // (the device preprocessing of the camera frames).
  std::pair<model::Value, float*> device_output(Shape shape);
  // A device-resident fp32 Value over caller-owned memory (no copy; the caller keeps it alive).
  model::Value wrap_device(float* data, Shape shape);
  // The device pointer of a dense fp32 Value (throws Internal for KV views and non-fp32 weights).
  float* device_data(const model::Value& v);

  Precision precision() const { return options_.precision; }
  cudaStream_t stream() const { return stream_.get(); }
  // Makes options.device current on the calling thread (cached per thread).
  void bind_device() const;
  void synchronize() const {
    bind_device();
    stream_.synchronize();
  }
  // Which GEMM and attention libraries run, or why the built-in kernels do (for ExecutorInfo).
  std::string libraries() const;
  // GEMM activation scratch in bytes (fixed while graphs are alive; see linear()).
  size_t gemm_scratch_bytes() const;
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
  // Bumped whenever device memory a captured graph may have baked in moves: kv_reserve (a new cache),
  // a kv_share that reallocates lane buffers, growth of the decode workspace, the cuBLASLt GEMM
  // scratch or the cuDNN workspace. CudaDenoiser drops its graphs when it changes.
  uint64_t memory_generation() const { return memory_generation_; }
  const CudaOptions& options() const { return options_; }
  int64_t kv_shared() const { return kv_shared_; }

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
  void kv_share_impl(int64_t shared, int64_t lanes) override;
  void kv_write_impl(int64_t layer, int64_t pos, const model::Value& k, const model::Value& v, int64_t lane) override;
  // Lane 0 reads are views; another lane's rows are gathered (shared prefix + its own) into the arena.
  std::pair<model::Value, model::Value> kv_read_impl(int64_t layer, int64_t len, int64_t lane) override;

  model::Value alloc(Shape shape);
  // Elementwise x -> y through op_kernels' launch_unary (silu, gelu_erf, scale).
  model::Value unary(UnaryOp op, const model::Value& x, float arg, const char* name);
  // A dense fp32 token-major form of any Value (non-fp32 weights widened, KV views transposed into
  // the arena); the returned Value owns the memory and must outlive the launch that reads it.
  std::pair<model::Value, float*> dense(const model::Value& v, const char* op, const char* arg);
  // Any float Value as a kernel weight operand (weights in their stored dtype, others dense fp32).
  std::pair<model::Value, WeightRef> weight_operand(const model::Value& v, const char* op, const char* arg);
  void ensure_decode_workspace(size_t bytes);
  // cuBLASLt for `a` when available; false when the caller must run the fallback GEMM.
  bool gemm_lt(const GemmArgs& a);
  bool lt_enabled() const {
#if ALPAMAYO_HAVE_CUBLASLT
    return lt_ != nullptr;
#else
    return false;
#endif
  }
  // cuDNN SDPA for this attention when available and the mask maps onto it; null otherwise (the
  // built-in kernels then run; the reason is kept for libraries()).
  model::Value attention_cudnn(const model::Value& q, const model::Value& k, const model::Value& v,
                               model::AttentionMask mask, float scale);
  // Arena storage for `elems` bf16 values (an fp32 Value of half the length).
  model::Value alloc_bf16(int64_t elems);

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
  std::unique_ptr<CudnnSdpa> sdpa_;
  // The last fused GEMM: its input, group and output, until every member has been served.
  struct FusedResult {
    model::Value x, y;
    const void* group = nullptr;
    int served = 0;
  } fused_;
  uint64_t fused_hits_ = 0;
  void fuse_groups();
  std::string sdpa_unavailable_;  // why cuDNN does not run (some) attention, for libraries()
  std::map<std::string, model::Value, std::less<>> weights_;
  std::set<std::string, std::less<>> requested_;
  uint64_t weight_bytes_ = 0;
  std::vector<std::shared_ptr<DeviceBuffer>> k_cache_, v_cache_;  // kv_read views share them
  // Lanes 1..: [lane - 1][layer] K/V of positions [kv_shared_, capacity), head-major [Hkv, tail, D].
  std::vector<std::vector<std::shared_ptr<DeviceBuffer>>> lane_k_, lane_v_;
  int64_t kv_capacity_ = 0, kv_heads_ = 0, kv_dim_ = 0, kv_shared_ = 0, kv_lanes_ = 1;
  uint64_t memory_generation_ = 0;
};

// The CUDA executor over a checkpoint: precision "fp32" | "bf16" | "fp16" | "fp8". Throws
// Error(BackendUnavailable, "CUDA backend requested but no CUDA device is available: <cuda error>")
// when the machine has no usable device, InvalidInput for a bad precision or device index.
std::unique_ptr<CudaOps> make_cuda_ops(std::shared_ptr<const Checkpoint> checkpoint, std::string_view precision,
                                       int device = 0);

}  // namespace alp::cuda
