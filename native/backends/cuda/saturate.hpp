#pragma once
// Saturating narrowing rules shared by the device cast kernels and their host tests: a value past the
// target's finite range becomes the largest finite value of that sign (NaN stays NaN) instead of inf.
// fp16's range (65504) is easily exceeded by fp32 activations (MLP outputs, logits); an inf fed to a
// tensor-core GEMM turns whole output rows into inf/NaN.
#if defined(__CUDACC__)
#define ALP_HD __host__ __device__ __forceinline__
#else
#define ALP_HD inline
#endif

namespace alp::cuda {

inline constexpr float kF16Max = 65504.0f;
inline constexpr float kE4M3Max = 448.0f;

ALP_HD float saturate_to(float x, float max_finite) {
  // NaN compares false both ways and passes through unchanged.
  return x > max_finite ? max_finite : (x < -max_finite ? -max_finite : x);
}

// The per-tensor fp8 scale rule of the CPU executor: amax / 448, or 1 for an all-zero tensor.
ALP_HD float fp8_scale_of_amax(float amax) { return amax > 0.f ? amax / kE4M3Max : 1.f; }

}  // namespace alp::cuda
