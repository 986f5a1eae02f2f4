#pragma once
// Small kernels for the Ops that have no layer kernel of their own (elementwise maths, row gathers and
// scatters, layout copies, the fp8 activation round trip). fp32, row-major, contiguous; everything is
// enqueued on `s`, allocates nothing and is graph-capturable. Each mirrors the CPU executor's loop
// (native/backends/cpu/cpu_ops.cpp) in order of accumulation wherever the result could depend on it.
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/weight_ref.hpp"

namespace alp::cuda {

enum class UnaryOp { Silu, GeluErf, Scale };
// y[i] = op(x[i]); Scale multiplies by `s_arg`.
void launch_unary(UnaryOp op, const float* x, float* y, int64_t n, float s_arg, cudaStream_t s);

enum class BinaryOp { Add, Mul };
// y[i] = a[i] op b[i % nb]: nb == n (same shape) or nb == the row width (row vector broadcast).
void launch_binary(BinaryOp op, const float* a, const float* b, float* y, int64_t n, int64_t nb, cudaStream_t s);

inline constexpr int kMaxFourierFreqs = 64;
// x[N, C] -> y[N, C * 2F]: per channel c, [sin(arg_k)·√2 (k < F), cos(arg_k)·√2 (k < F)] with
// arg_k = ((x·f_k)·2)·π in fp32, sin/cos evaluated in double and rounded once (as the host libm's
// correctly rounded sinf/cosf). F <= kMaxFourierFreqs.
void launch_fourier_features(const float* x, int64_t n, int64_t c, const float* freqs, int n_freqs, float* y,
                             cudaStream_t s);

// y[n, :] = Σ_t w[n, t] · table[idx[n, t], :], taps accumulated in order t = 0, 1, ... from 0.
void launch_interp_rows(WeightRef table, const int32_t* idx, const float* w, int64_t n, int64_t taps, int64_t d,
                        float* y, cudaStream_t s);

// x[idx[i], :] = src[i, :] (accumulate = false) or += (true), rows visited in order i = 0, 1, ... by
// one thread per column, so duplicate indices resolve exactly as the CPU loop does.
void launch_row_update(float* x, const int32_t* idx, int64_t n_idx, const float* src, int64_t d, bool accumulate,
                       cudaStream_t s);

// General permutation of a rank <= 6 tensor: out dim i = in dim perm[i].
inline constexpr int kMaxRank = 6;
void launch_transpose(const float* x, const int64_t* in_shape, const int* perm, int rank, float* y, cudaStream_t s);

// y[r, :] = x[0, :] for r < n.
void launch_expand_rows(const float* x, int64_t n, int64_t d, float* y, cudaStream_t s);

// Between the Ops layout [tokens, heads, D] (token-major) and the attention kernels' head-major
// [heads, capacity, D]: rows [pos, pos + tokens) of a head-major buffer with `capacity` rows per head.
void launch_token_to_head_major(const float* x, int64_t tokens, int64_t heads, int64_t d, float* cache,
                                int64_t capacity, int64_t pos, cudaStream_t s);
void launch_head_to_token_major(const float* cache, int64_t capacity, int64_t tokens, int64_t heads, int64_t d,
                                float* y, cudaStream_t s);

// y[i] = widen(w[i]) (bf16/f16/fp8 weight used where an fp32 activation is expected).
void launch_widen(WeightRef w, int64_t n, float* y, cudaStream_t s);

// The CPU's per-tensor fp8 e4m3 round trip on the device: amax = max|x| (written to *amax_scratch,
// one float of device memory), scale = amax > 0 ? amax / 448 : 1, y = fp8(x / scale) · scale with
// round-to-nearest-even, saturating. Bit-identical to alp::cpu::fp8_round_trip.
void launch_fp8_round_trip(const float* x, float* y, int64_t n, float* amax_scratch, cudaStream_t s);

}  // namespace alp::cuda
