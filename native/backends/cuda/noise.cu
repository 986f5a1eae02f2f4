#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/noise.hpp"
#include "backends/cuda/philox.cuh"

namespace alp::cuda {
namespace {

__global__ void normal_noise_kernel(float* out, int64_t n, uint64_t seed, uint64_t offset) {
  const int64_t n_blocks = (n + 3) / 4;
  for (int64_t b = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; b < n_blocks; b += int64_t(gridDim.x) * blockDim.x) {
    float z[4];
    philox::normal4(seed, offset, static_cast<uint64_t>(b), z);
    for (int k = 0; k < 4; ++k)
      if (b * 4 + k < n) out[b * 4 + k] = z[k];
  }
}

}  // namespace

void launch_normal_noise(float* out, int64_t n, uint64_t seed, uint64_t offset, cudaStream_t s) {
  if (n <= 0) return;
  const int64_t n_blocks = (n + 3) / 4;
  const int threads = 128;
  const int grid = static_cast<int>(std::min<int64_t>((n_blocks + threads - 1) / threads, 4096));
  normal_noise_kernel<<<grid, threads, 0, s>>>(out, n, seed, offset);
  check_launch("normal_noise_kernel");
}

void normal_noise_host(float* out, int64_t n, uint64_t seed, uint64_t offset) {
  for (int64_t b = 0; b * 4 < n; ++b) {
    float z[4];
    philox::normal4(seed, offset, static_cast<uint64_t>(b), z);
    for (int k = 0; k < 4 && b * 4 + k < n; ++k) out[b * 4 + k] = z[k];
  }
}

}  // namespace alp::cuda
