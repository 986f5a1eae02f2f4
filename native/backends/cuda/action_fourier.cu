#include <cmath>
#include <string>

#include "backends/cuda/action_fourier.hpp"
#include "backends/cuda/cuda_check.hpp"

namespace alp::cuda {
namespace {

struct Freqs {
  float f[kMaxFourierHalf];
};

// pi and sqrt(2) as fp32, as PyTorch casts the Python scalars.
constexpr float kPiF = 3.14159265358979323846f;
constexpr float kSqrt2F = 1.41421356237309504880f;

__host__ __device__ inline float fourier_value(float s, float f, bool cosine) {
  const float arg = ((s * f) * 2.0f) * kPiF;
  return (cosine ? cosf(arg) : sinf(arg)) * kSqrt2F;
}

// One thread per output element: rows * width elements, width = (n_channels + 1) * 2 * half.
__global__ void action_fourier_kernel(const float* __restrict__ x, int64_t rows, int n_channels, float t, Freqs fr,
                                      int half, float* __restrict__ out) {
  const int width = (n_channels + 1) * 2 * half;
  const int64_t total = rows * width;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / width;
    const int col = static_cast<int>(i % width);
    const int ch = col / (2 * half);
    const int within = col % (2 * half);
    const float s = ch < n_channels ? x[r * n_channels + ch] : t;
    out[i] = fourier_value(s, fr.f[within % half], within >= half);
  }
}

void check_args(int n_channels, const std::vector<float>& freqs) {
  require(!freqs.empty() && freqs.size() <= size_t(kMaxFourierHalf), ErrorCode::InvalidInput,
          "action_fourier: freqs has " + std::to_string(freqs.size()) + " entries, expected 1.." +
              std::to_string(kMaxFourierHalf));
  require(n_channels >= 1, ErrorCode::InvalidInput, "action_fourier: n_channels " + std::to_string(n_channels) + " < 1");
}

}  // namespace


void launch_action_fourier(const float* x, int64_t rows, int n_channels, float t, const std::vector<float>& freqs,
                           float* out, cudaStream_t s) {
  check_args(n_channels, freqs);
  if (rows <= 0) return;
  Freqs fr{};
  for (size_t k = 0; k < freqs.size(); ++k) fr.f[k] = freqs[k];
  const int half = static_cast<int>(freqs.size());
  const int64_t total = rows * (n_channels + 1) * 2 * half;
  const int threads = 256;
  const int grid = static_cast<int>(std::min<int64_t>((total + threads - 1) / threads, 65535));
  action_fourier_kernel<<<grid, threads, 0, s>>>(x, rows, n_channels, t, fr, half, out);
  check_launch("action_fourier_kernel");
}

void action_fourier_host(const float* x, int64_t rows, int n_channels, float t, const std::vector<float>& freqs,
                         float* out) {
  check_args(n_channels, freqs);
  const int half = static_cast<int>(freqs.size());
  const int width = (n_channels + 1) * 2 * half;
  for (int64_t r = 0; r < rows; ++r)
    for (int col = 0; col < width; ++col) {
      const int ch = col / (2 * half), within = col % (2 * half);
      const float s = ch < n_channels ? x[r * n_channels + ch] : t;
      out[r * width + col] = fourier_value(s, freqs[size_t(within % half)], within >= half);
    }
}

}  // namespace alp::cuda
