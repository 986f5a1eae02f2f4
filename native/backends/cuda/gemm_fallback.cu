#include <string>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/gemm.hpp"
#include "backends/cuda/load_widen.cuh"
#include "backends/cuda/saturate.hpp"

namespace alp::cuda {
namespace {

constexpr int BM = 64, BN = 64, BK = 16, kThreads = 256;

// 256 threads, each a 4x4 micro-tile at rows ty + 16 i and cols tx + 16 j (strided so a warp's shared
// reads hit distinct banks). Tiles are stored k-major ([BK][BM]) so the inner loop broadcasts.
template <DType WT>
__global__ void __launch_bounds__(kThreads) gemm_kernel(GemmArgs a) {
  __shared__ float Xs[BK][BM + 4];
  __shared__ float Ws[BK][BN + 4];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t m0 = int64_t(blockIdx.y) * BM, n0 = int64_t(blockIdx.x) * BN;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < a.k; k0 += BK) {
    for (int i = tid; i < BM * BK; i += kThreads) {
      const int r = i / BK, kk = i % BK;  // consecutive threads walk k: coalesced rows of X and W
      const int64_t gm = m0 + r, gn = n0 + r, gk = k0 + kk;
      Xs[kk][r] = (gm < a.m && gk < a.k) ? a.x[gm * a.k + gk] : 0.f;
      Ws[kk][r] = (gn < a.n && gk < a.k) ? widen<WT>(a.w.data, gn * a.k + gk, a.w.scale) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float xv[4], wv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) xv[i] = Xs[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) wv[j] = Ws[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(xv[i], wv[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t gm = m0 + ty + 16 * i;
    if (gm >= a.m) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t gn = n0 + tx + 16 * j;
      if (gn >= a.n) continue;
      float v = acc[i][j];
      if (a.bias) v += a.bias[gn];
      if (a.residual) v += a.residual[gm * a.n + gn];
      a.y[gm * a.n + gn] = v;
    }
  }
}

__global__ void cast_kernel_bf16(const float* x, __nv_bfloat16* o, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    o[i] = __float2bfloat16_rn(x[i]);
}
__global__ void cast_kernel_f16(const float* x, __half* o, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    o[i] = __float2half_rn(saturate_to(x[i], kF16Max));  // inf would poison the GEMM
}
__global__ void cast_kernel_fp8(const float* x, __nv_fp8_storage_t* o, float inv_scale, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    o[i] = __nv_cvt_float_to_fp8(x[i] * inv_scale, __NV_SATFINITE, __NV_E4M3);
}

__global__ void add_bias_kernel(float* y, const float* bias, int64_t m, int64_t n) {
  const int64_t total = m * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    y[i] += bias[i % n];
}

}  // namespace

void launch_add_bias_rows(float* y, const float* bias, int64_t m, int64_t n, cudaStream_t s) {
  if (m * n <= 0) return;
  add_bias_kernel<<<int(std::min<int64_t>((m * n + 255) / 256, 65535)), 256, 0, s>>>(y, bias, m, n);
  check_launch("add_bias_kernel");
}

void launch_gemm_fallback(const GemmArgs& a, cudaStream_t s) {
  require(a.m >= 0 && a.n >= 0 && a.k >= 0, ErrorCode::InvalidInput,
          "gemm: negative size m=" + std::to_string(a.m) + " n=" + std::to_string(a.n) + " k=" + std::to_string(a.k));
  if (a.m == 0 || a.n == 0) return;
  require((a.n + BN - 1) / BN <= 0x7fffffff && (a.m + BM - 1) / BM <= 65535, ErrorCode::InvalidInput,
          "gemm: m=" + std::to_string(a.m) + " exceeds 65535*64 rows");
  const dim3 grid(unsigned((a.n + BN - 1) / BN), unsigned((a.m + BM - 1) / BM));
  ALP_DISPATCH_WEIGHT(a.w, "gemm", gemm_kernel<WT><<<grid, kThreads, 0, s>>>(a));
  check_launch("gemm_kernel");
}

void launch_cast_from_f32(const float* x, void* out, DType dtype, float scale, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  const int grid = int(std::min<int64_t>((n + 255) / 256, 65535));
  switch (dtype) {
    case DType::BF16: cast_kernel_bf16<<<grid, 256, 0, s>>>(x, static_cast<__nv_bfloat16*>(out), n); break;
    case DType::F16: cast_kernel_f16<<<grid, 256, 0, s>>>(x, static_cast<__half*>(out), n); break;
    case DType::F8E4M3:
      require(scale > 0.f, ErrorCode::InvalidInput, "cast_from_f32: fp8 scale " + std::to_string(scale) + " must be > 0");
      cast_kernel_fp8<<<grid, 256, 0, s>>>(x, static_cast<__nv_fp8_storage_t*>(out), 1.0f / scale, n);
      break;
    default:
      fail(ErrorCode::InvalidInput, "cast_from_f32: target dtype " + std::to_string(int(dtype)) + " unsupported");
  }
  check_launch("cast_kernel");
}

}  // namespace alp::cuda
