#pragma once
// Device-side widening of a WeightRef element to fp32 (exact for bf16/f16/fp8).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "backends/cuda/weight_ref.hpp"

namespace alp::cuda {

template <DType T> __device__ __forceinline__ float widen(const void* p, int64_t i, float scale);
template <> __device__ __forceinline__ float widen<DType::F32>(const void* p, int64_t i, float) {
  return static_cast<const float*>(p)[i];
}
template <> __device__ __forceinline__ float widen<DType::BF16>(const void* p, int64_t i, float) {
  return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}
template <> __device__ __forceinline__ float widen<DType::F16>(const void* p, int64_t i, float) {
  return __half2float(static_cast<const __half*>(p)[i]);
}
template <> __device__ __forceinline__ float widen<DType::F8E4M3>(const void* p, int64_t i, float scale) {
  __nv_fp8_e4m3 v;
  v.__x = static_cast<const __nv_fp8_storage_t*>(p)[i];
  return static_cast<float>(v) * scale;
}

}  // namespace alp::cuda

// Calls BODY with `constexpr DType WT` bound to ref's dtype; throws InvalidInput for other dtypes.
#define ALP_DISPATCH_WEIGHT(ref, what, ...)                                                          \
  switch ((ref).dtype) {                                                                            \
    case ::alp::DType::F32: { constexpr ::alp::DType WT = ::alp::DType::F32; __VA_ARGS__; break; }   \
    case ::alp::DType::BF16: { constexpr ::alp::DType WT = ::alp::DType::BF16; __VA_ARGS__; break; } \
    case ::alp::DType::F16: { constexpr ::alp::DType WT = ::alp::DType::F16; __VA_ARGS__; break; }   \
    case ::alp::DType::F8E4M3: { constexpr ::alp::DType WT = ::alp::DType::F8E4M3; __VA_ARGS__; break; } \
    default:                                                                                        \
      ::alp::fail(::alp::ErrorCode::InvalidInput,                                                   \
                  std::string(what) + ": weight dtype " + std::to_string(int((ref).dtype)) +        \
                      " unsupported, expected F32, BF16, F16 or F8E4M3");                           \
  }
