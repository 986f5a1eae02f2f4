#pragma once
// The one per-tensor FP8 e4m3 scale rule, shared by the CPU executor, the CUDA executor (host and
// device code) and the exporter: amax maps to the largest finite e4m3 value, 448, so x / scale
// saturates nowhere. A zero or non-finite amax (all-zero tensors, never-excited activations, an
// overflowed activation) gives 1: nothing divides by zero and no scale becomes Inf or NaN.
#include <cfloat>

#if defined(__CUDACC__)
#define ALP_HOST_DEVICE __host__ __device__
#else
#define ALP_HOST_DEVICE
#endif

namespace alp {

inline constexpr float kFp8E4M3Max = 448.0f;

// `amax <= FLT_MAX` is isfinite for a non-negative amax (NaN compares false), and works in device code.
ALP_HOST_DEVICE inline float fp8_e4m3_scale(float amax) {
  return amax > 0.0f && amax <= FLT_MAX ? amax / kFp8E4M3Max : 1.0f;
}

}  // namespace alp
