#include <algorithm>
#include <string>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/load_widen.cuh"
#include "backends/cuda/saturate.hpp"
#include "backends/cuda/weight_convert.hpp"

namespace alp::cuda {
namespace {

constexpr int kThreads = 256;
int grid_for(int64_t n) { return int(std::max<int64_t>(1, std::min<int64_t>((n + kThreads - 1) / kThreads, 65535))); }

template <DType ST>
__global__ void convert_kernel(const void* src, int64_t n, void* dst, DType dst_dtype, DType round_through) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float v = widen<ST>(src, i, 1.0f);
    switch (dst_dtype) {
      case DType::BF16: static_cast<__nv_bfloat16*>(dst)[i] = __float2bfloat16_rn(v); break;
      case DType::F16: static_cast<__half*>(dst)[i] = __float2half_rn(saturate_to(v, kF16Max)); break;
      default:
        if (round_through == DType::BF16) v = __bfloat162float(__float2bfloat16_rn(v));
        else if (round_through == DType::F16) v = __half2float(__float2half_rn(v));
        static_cast<float*>(dst)[i] = v;
    }
  }
}

template <DType ST>
__global__ void amax_kernel(const void* x, int64_t n, float* amax) {
  float m = 0.f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    m = fmaxf(m, fabsf(widen<ST>(x, i, 1.0f)));
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  // Non-negative floats order like their bit patterns, so an integer max is a float max.
  if ((threadIdx.x & 31) == 0) atomicMax(reinterpret_cast<int*>(amax), __float_as_int(m));
}

template <DType ST>
__global__ void quantise_kernel(const void* x, int64_t n, __nv_fp8_storage_t* q, const float* amax, float* scale_out) {
  const float scale = fp8_scale_of_amax(*amax);
  if (blockIdx.x == 0 && threadIdx.x == 0) *scale_out = scale;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    q[i] = __nv_cvt_float_to_fp8(__fdiv_rn(widen<ST>(x, i, 1.0f), scale), __NV_SATFINITE, __NV_E4M3);
}

__global__ void narrow_bf16_kernel(const float* src, int64_t src_stride, __nv_bfloat16* dst, int64_t dst_stride,
                                   int64_t outer, int64_t inner) {
  const int64_t n = outer * inner;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = i / inner, e = i % inner;
    dst[o * dst_stride + e] = __float2bfloat16_rn(src[o * src_stride + e]);
  }
}

}  // namespace

void launch_narrow_bf16(const float* src, int64_t src_stride, void* dst, int64_t dst_stride, int64_t outer, int64_t inner,
                        cudaStream_t s) {
  if (outer * inner <= 0) return;
  narrow_bf16_kernel<<<grid_for(outer * inner), kThreads, 0, s>>>(src, src_stride, static_cast<__nv_bfloat16*>(dst),
                                                                   dst_stride, outer, inner);
  check_launch("narrow_bf16_kernel");
}

void launch_convert(const void* src, DType src_dtype, int64_t n, void* dst, DType dst_dtype, DType round_through,
                    cudaStream_t s) {
  if (n <= 0) return;
  require(dst_dtype == DType::F32 || dst_dtype == DType::BF16 || dst_dtype == DType::F16, ErrorCode::Internal,
          "launch_convert: target dtype " + std::string(dtype_name(dst_dtype)) + " is not F32, BF16 or F16");
  const WeightRef r{src, src_dtype, 1.0f};
  ALP_DISPATCH_WEIGHT(r, "convert", convert_kernel<WT><<<grid_for(n), kThreads, 0, s>>>(src, n, dst, dst_dtype, round_through));
  check_launch("convert_kernel");
}

void launch_fp8_quantise(const void* x, DType x_dtype, int64_t n, uint8_t* q, float* scale, float* amax, cudaStream_t s) {
  ALP_CUDA(cudaMemsetAsync(amax, 0, sizeof(float), s));
  const WeightRef r{x, x_dtype, 1.0f};
  if (n > 0) {
    ALP_DISPATCH_WEIGHT(r, "fp8 amax", amax_kernel<WT><<<std::min(grid_for(n), 1024), kThreads, 0, s>>>(x, n, amax));
    check_launch("amax_kernel");
  }
  ALP_DISPATCH_WEIGHT(r, "fp8 quantise",
                      quantise_kernel<WT><<<grid_for(n), kThreads, 0, s>>>(x, n, reinterpret_cast<__nv_fp8_storage_t*>(q), amax, scale));
  check_launch("quantise_kernel");
}

}  // namespace alp::cuda
