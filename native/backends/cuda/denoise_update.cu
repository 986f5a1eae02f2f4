#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/denoise_update.hpp"

namespace alp::cuda {
namespace {

// Two roundings (product, then sum) as PyTorch's `x = x + dt * v` does; the explicit _rn intrinsics
// stop nvcc from contracting them into one fma, which would differ from the reference in the last bit.
__global__ void euler_update_kernel(float* __restrict__ x, const float* __restrict__ v, float dt, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] = __fadd_rn(x[i], __fmul_rn(dt, v[i]));
}

}  // namespace

void launch_euler_update(float* x, const float* v, float dt, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  const int threads = 256;
  const int grid = static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 4096));
  euler_update_kernel<<<grid, threads, 0, s>>>(x, v, dt, n);
  check_launch("euler_update_kernel");
}

}  // namespace alp::cuda
