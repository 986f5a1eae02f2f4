#pragma once
// Row-wise and element-wise kernels of the transformer layers. Activations are fp32, row-major,
// contiguous; weights are WeightRef (fp32/bf16/f16/fp8 widened on load). In-place (y == x) is allowed
// wherever the signature takes both. Everything is enqueued on `s` and is graph-capturable.
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/weight_ref.hpp"

namespace alp::cuda {

// y = x * rsqrt(mean(x^2) + eps) * w  (Qwen3 RMSNorm; also the per-head q/k norm with rows = tokens*heads).
void launch_rmsnorm(const float* x, WeightRef w, float* y, int64_t rows, int dim, float eps, cudaStream_t s);

// y = (x - mean) * rsqrt(var + eps) * w + b, biased variance; b.data may be null (no bias).
void launch_layernorm(const float* x, WeightRef w, WeightRef b, float* y, int64_t rows, int dim, float eps,
                      cudaStream_t s);

// In place on x [tokens, heads, head_dim]: x = x * cos + rotate_half(x) * sin with
// rotate_half(x) = cat(-x[D/2:], x[:D/2]); cos/sin are [tokens, head_dim] (HF layout, halves repeated).
void launch_rope(float* x, const float* cos, const float* sin, int64_t tokens, int heads, int head_dim,
                 cudaStream_t s);

// out[r, i] = silu(gate_up[r, i]) * gate_up[r, inter + i]  for the fused [rows, 2 * inter] projection.
void launch_swiglu(const float* gate_up, float* out, int64_t rows, int inter, cudaStream_t s);

// y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  (PyTorch gelu approximate='tanh').
void launch_gelu_tanh(const float* x, float* y, int64_t n, cudaStream_t s);

// y = a + b (residual add).
void launch_add(const float* a, const float* b, float* y, int64_t n, cudaStream_t s);

// out[i, :] = table[ids[i], :] widened to fp32. Ids outside [0, vocab) give a zero row (the host checks
// ids before upload; a kernel cannot throw).
void launch_embedding_gather(const int32_t* ids, int64_t n_ids, WeightRef table, int64_t vocab, int dim, float* out,
                             cudaStream_t s);

// out[r] = index of the largest x[r, :] (lowest index on ties; NaN counts as largest, as torch.argmax).
void launch_argmax_rows(const float* x, int64_t rows, int64_t cols, int32_t* out, cudaStream_t s);

}  // namespace alp::cuda
