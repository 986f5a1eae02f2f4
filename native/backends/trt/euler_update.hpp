#pragma once
// The Euler step of the flow-matching loop, x <- x + dt * v, as one CUDA kernel launch. It is defined by
// the CUDA backend (native/backends/cuda/denoise_update.cu, declared in denoise_update.hpp there);
// .cu files in backends/trt are not compiled, so the runner only declares it and links
// alpamayo_cuda. The launch goes onto `s` so that it can be captured into the denoising graph.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace alp::cuda {
void launch_euler_update(float* x, const float* v, float dt, int64_t n, cudaStream_t s);
}  // namespace alp::cuda
