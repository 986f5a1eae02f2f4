#pragma once
// Standard-normal noise from Philox4x32-10 on the device (mapping documented in philox.cuh).
#include <cuda_runtime.h>

#include <cstdint>

namespace alp::cuda {

// out[i] = normal(seed, offset, i) for i in [0, n). Counter-based: no state, graph-capturable.
void launch_normal_noise(float* out, int64_t n, uint64_t seed, uint64_t offset, cudaStream_t s);

// Host twin of the kernel (same numbers, bit for bit barring a libm double-ulp tie; see philox.cuh).
void normal_noise_host(float* out, int64_t n, uint64_t seed, uint64_t offset);

}  // namespace alp::cuda
