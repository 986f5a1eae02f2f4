#pragma once
// Front end of action_in_proj: Fourier features of each normalised action channel and of the flow time
// (model-spec §3.3). For every waypoint row r and every encoded scalar s (the action channels in order,
// then t):  [sin(2 pi f_k s) for k < half] ++ [cos(2 pi f_k s) for k < half], each times sqrt(2).
// The argument is formed in fp32 as ((s * f_k) * 2) * pi, the order and precision PyTorch uses, so
// large |s| (arguments of thousands of radians) round the same way.
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

namespace alp::cuda {

inline constexpr int kMaxFourierHalf = 32;

// x: [rows, n_channels] fp32 (device). out: [rows, (n_channels + 1) * 2 * half] fp32 (device).
// t: the flow time shared by every row of this call.
void launch_action_fourier(const float* x, int64_t rows, int n_channels, float t, const std::vector<float>& freqs,
                           float* out, cudaStream_t s);

// Host twin.
void action_fourier_host(const float* x, int64_t rows, int n_channels, float t, const std::vector<float>& freqs,
                         float* out);

}  // namespace alp::cuda
