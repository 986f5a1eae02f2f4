#pragma once
// Linear layers: Y[M, N] = X[M, K] . W[N, K]^T (+ bias[N]) (+ residual[M, N]), the torch.nn.Linear
// layout, fp32 activations in and out, fp32 accumulation.
//   launch_gemm_fallback: tiled CUDA-core kernel, always available, weights f32/bf16/f16/fp8-e4m3
//                         (fp8 with WeightRef::scale as the per-tensor dequantisation scale).
//   CublasLtGemm:         tensor-core path, compiled only with ALPAMAYO_HAVE_CUBLASLT. BF16/FP16 weights
//                         run with X cast to the weight type; FP8 e4m3 (sm_89+) quantises X with a
//                         per-tensor scale and passes both scales to cuBLASLt.
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/resources.hpp"
#include "backends/cuda/weight_ref.hpp"

#if ALPAMAYO_HAVE_CUBLASLT
#include <cublasLt.h>
#endif

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

// Casts fp32 to the storage type of `dtype` (BF16, F16 round-to-nearest-even, or F8E4M3 as
// x * (1 / scale) rounded and saturated to +-448), n elements. Used to feed X to tensor-core GEMMs.
void launch_cast_from_f32(const float* x, void* out, DType dtype, float scale, int64_t n, cudaStream_t s);

// y[r, c] += bias[c] for an [m, n] matrix (the cuBLASLt path adds the bias after the matmul).
void launch_add_bias_rows(float* y, const float* bias, int64_t m, int64_t n, cudaStream_t s);

#if ALPAMAYO_HAVE_CUBLASLT
// One cuBLASLt handle with a workspace and a scratch buffer for the cast activations; not thread-safe
// (one per stream/planner).
class CublasLtGemm {
 public:
  explicit CublasLtGemm(size_t workspace_bytes = size_t(32) << 20);
  ~CublasLtGemm();
  CublasLtGemm(const CublasLtGemm&) = delete;
  CublasLtGemm& operator=(const CublasLtGemm&) = delete;

  // x_scale: per-tensor scale for quantising X to fp8 (ignored for bf16/f16 weights).
  void run(const GemmArgs& a, cudaStream_t s, float x_scale = 1.0f);

 private:
  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_, x_cast_;  // x_cast_ grows on first use: make one call before graph capture
};
#endif

}  // namespace alp::cuda
