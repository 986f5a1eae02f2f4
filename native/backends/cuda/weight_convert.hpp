#pragma once
// Device-side weight preparation at load: the checkpoint's bytes go to the device as stored and are
// converted there (no single-threaded host loops, no host copies of converted weights).
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.hpp"

namespace alp::cuda {

// dst[i] = src[i] converted from src_dtype (F32, BF16, F16, F8E4M3 unscaled) to dst_dtype (F32, BF16
// or F16; F16 saturating). round_through: for dst F32, round each value through BF16 or F16 first
// (the CPU executor's rule for fp32-kept weights of bf16/fp16 runs); F32 = no rounding.
void launch_convert(const void* src, DType src_dtype, int64_t n, void* dst, DType dst_dtype, DType round_through,
                    cudaStream_t s);

// Per-tensor e4m3 quantisation on the device, the CPU executor's rule: amax = max|x|,
// *scale = amax > 0 ? amax / 448 : 1, q[i] = e4m3_satfinite(x[i] / *scale) (round to nearest even).
// `amax` is one float of device scratch. Nothing is synchronised: scale stays a device value, so
// an activation's quantisation needs no host round trip.
void launch_fp8_quantise(const void* x, DType x_dtype, int64_t n, uint8_t* q, float* scale, float* amax, cudaStream_t s);

}  // namespace alp::cuda

namespace alp::cuda {
// Narrows `outer` blocks of `inner` contiguous fp32 values to bf16 (round to nearest even):
// dst[o * dst_stride + i] = bf16(src[o * src_stride + i]). Feeds cuDNN attention from fp32
// activations and from the rows [0, len) of each head of the head-major fp32 KV cache.
void launch_narrow_bf16(const float* src, int64_t src_stride, void* dst, int64_t dst_stride, int64_t outer, int64_t inner,
                        cudaStream_t s);
}  // namespace alp::cuda
