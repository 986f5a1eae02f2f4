#pragma once
// Linear layers: Y[M, N] = X[M, K] . W[N, K]^T (+ bias[N]) (+ residual[M, N]), the torch.nn.Linear
// layout, fp32 activations in and out, fp32 accumulation.
//   launch_gemm_fallback: tiled CUDA-core kernel, always available, weights f32/bf16/f16/fp8-e4m3
//                         (fp8 with WeightRef::scale as the per-tensor dequantisation scale).
//   CublasLtGemm:         tensor-core path through cuBLASLt (opened at run time, nvidia_libs.hpp) for
//                         BF16, F16 and FP8 E4M3 weights. X is narrowed into a scratch buffer of fixed
//                         size (BF16/F16: saturating cast; FP8: per-tensor quantisation whose scale
//                         stays on the device and reaches cuBLASLt as a scale pointer, as does the
//                         weight's). Bias goes into the epilogue (CUBLASLT_EPILOGUE_BIAS), the residual
//                         into C with beta = 1. Descriptors and the chosen algorithm are cached per shape.
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "backends/cuda/resources.hpp"
#include "backends/cuda/weight_ref.hpp"

namespace alp::cuda {

struct GemmArgs {
  const float* x = nullptr;         // [M, K]
  WeightRef w;                      // [N, K]
  const float* bias = nullptr;      // [N] or null
  const float* residual = nullptr;  // [M, N] or null; may alias y
  float* y = nullptr;               // [M, N]
  int64_t m = 0, n = 0, k = 0;
};

void launch_gemm_fallback(const GemmArgs& a, cudaStream_t s);

// Casts fp32 to the storage type of `dtype` (BF16, F16 round-to-nearest-even saturating at +-65504,
// or F8E4M3 as x * (1 / scale) rounded and saturated to +-448), n elements.
void launch_cast_from_f32(const float* x, void* out, DType dtype, float scale, int64_t n, cudaStream_t s);

// y[r, c] += bias[c] for an [m, n] matrix (used when no cuBLASLt algorithm takes the bias epilogue).
void launch_add_bias_rows(float* y, const float* bias, int64_t m, int64_t n, cudaStream_t s);

#if ALPAMAYO_HAVE_CUBLASLT
struct CublasLtApi;

// One cuBLASLt handle, a workspace and a fixed scratch for the narrowed X; not thread-safe (one per
// executor/stream). The scratch never moves while work that references it may still replay: it is
// sized by reserve() outside capture, and run() throws instead of growing it (a captured graph keeps
// the scratch address; reallocating under it was a use-after-free on replay).
class CublasLtGemm {
 public:
  // Throws BackendUnavailable when libcublasLt cannot be opened.
  explicit CublasLtGemm(size_t workspace_bytes = size_t(32) << 20);
  ~CublasLtGemm();
  CublasLtGemm(const CublasLtGemm&) = delete;
  CublasLtGemm& operator=(const CublasLtGemm&) = delete;

  // Makes the scratch hold an [m, k] activation in any supported precision. Returns true when it had
  // to reallocate (every graph that captured a run() must then be dropped by the caller).
  bool reserve(int64_t m, int64_t k);
  bool fits(int64_t m, int64_t k) const { return scratch_bytes_needed(m, k) <= x_cast_.bytes(); }
  size_t scratch_bytes() const { return x_cast_.bytes(); }

  // Throws Internal when the scratch does not fit (reserve() first); never allocates device memory.
  // Returns false (nothing enqueued) when cuBLASLt has no algorithm for this shape/dtype (e.g. FP8
  // with K not a multiple of 16): the caller runs launch_gemm_fallback instead.
  bool run(const GemmArgs& a, cudaStream_t s);

  // Number of distinct shapes planned so far (descriptor/algorithm cache size).
  size_t cached_plans() const { return plans_.size(); }

 private:
  struct Plan;
  static size_t scratch_bytes_needed(int64_t m, int64_t k);
  Plan& plan_for(const GemmArgs& a);

  const CublasLtApi* api_ = nullptr;
  void* handle_ = nullptr;  // cublasLtHandle_t
  DeviceBuffer workspace_, x_cast_, scales_;  // scales_: [0] X's fp8 scale, [1] amax scratch
  // (m, n, k, weight dtype, bias?, residual?)
  std::map<std::tuple<int64_t, int64_t, int64_t, int, bool, bool>, std::unique_ptr<Plan>> plans_;
};
#endif

}  // namespace alp::cuda
