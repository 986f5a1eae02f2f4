#include <cuda_fp8.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/load_widen.cuh"
#include "backends/cuda/op_kernels.hpp"
#include "core/fp8_scale.hpp"

namespace alp::cuda {
namespace {

constexpr int kThreads = 256;

int grid_for(int64_t n) { return static_cast<int>(std::clamp<int64_t>((n + kThreads - 1) / kThreads, 1, 65535)); }

#define ALP_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__global__ void unary_kernel(UnaryOp op, const float* x, float* y, int64_t n, float s) {
  ALP_GRID_STRIDE(i, n) {
    const float a = x[i];
    switch (op) {
      // expf / erff are within 1-2 ulp of the host libm; the CPU parity tolerance covers that.
      case UnaryOp::Silu: y[i] = a / (1.0f + expf(-a)); break;
      case UnaryOp::GeluErf: y[i] = 0.5f * a * (1.0f + erff(a * 0.7071067811865476f)); break;
      case UnaryOp::Scale: y[i] = a * s; break;
    }
  }
}

__global__ void binary_kernel(BinaryOp op, const float* a, const float* b, float* y, int64_t n, int64_t nb) {
  ALP_GRID_STRIDE(i, n) {
    const float u = a[i], v = b[nb == n ? i : i % nb];
    y[i] = op == BinaryOp::Add ? __fadd_rn(u, v) : __fmul_rn(u, v);
  }
}

struct Freqs {
  float f[kMaxFourierFreqs];
};

__global__ void fourier_kernel(const float* x, int64_t n, int64_t c, Freqs fr, int nf, float* y) {
  const float pi = static_cast<float>(3.14159265358979323846);    // float(std::numbers::pi)
  const float root2 = static_cast<float>(1.41421356237309504880);  // float(std::numbers::sqrt2)
  ALP_GRID_STRIDE(i, n * c * nf) {
    const int k = static_cast<int>(i % nf);
    const int64_t xc = i / nf;
    // __fmul_rn: no contraction, so the association ((x * f) * 2) * pi is kept exactly.
    const float arg = __fmul_rn(__fmul_rn(__fmul_rn(x[xc], fr.f[k]), 2.0f), pi);
    float* out = y + xc * 2 * nf;
    out[k] = __fmul_rn(static_cast<float>(sin(static_cast<double>(arg))), root2);
    out[nf + k] = __fmul_rn(static_cast<float>(cos(static_cast<double>(arg))), root2);
  }
}

template <DType WT>
__global__ void interp_rows_kernel(WeightRef table, const int32_t* idx, const float* w, int64_t n, int64_t taps,
                                   int64_t d, float* y) {
  ALP_GRID_STRIDE(i, n * d) {
    const int64_t r = i / d, e = i % d;
    float acc = 0.f;
    for (int64_t t = 0; t < taps; ++t)
      acc = __fadd_rn(acc, __fmul_rn(widen<WT>(table.data, int64_t(idx[r * taps + t]) * d + e, table.scale), w[r * taps + t]));
    y[i] = acc;
  }
}

__global__ void row_update_kernel(float* x, const int32_t* idx, int64_t n_idx, const float* src, int64_t d, bool acc) {
  ALP_GRID_STRIDE(e, d) {
    for (int64_t i = 0; i < n_idx; ++i) {
      float& dst = x[int64_t(idx[i]) * d + e];
      dst = acc ? __fadd_rn(dst, src[i * d + e]) : src[i * d + e];
    }
  }
}

struct Perm {
  int64_t out_shape[kMaxRank];
  int64_t in_stride_of_out[kMaxRank];  // input stride of output dim i
  int rank;
};

__global__ void transpose_kernel(const float* x, Perm p, int64_t n, float* y) {
  ALP_GRID_STRIDE(i, n) {
    int64_t rem = i, src = 0;
    for (int d = p.rank - 1; d >= 0; --d) {
      src += (rem % p.out_shape[d]) * p.in_stride_of_out[d];
      rem /= p.out_shape[d];
    }
    y[i] = x[src];
  }
}

__global__ void expand_rows_kernel(const float* x, int64_t n, int64_t d, float* y) {
  ALP_GRID_STRIDE(i, n * d) y[i] = x[i % d];
}

__global__ void token_to_head_kernel(const float* x, int64_t tokens, int64_t heads, int64_t d, float* cache,
                                     int64_t capacity, int64_t pos) {
  ALP_GRID_STRIDE(i, tokens * heads * d) {
    const int64_t e = i % d, h = (i / d) % heads, t = i / (d * heads);
    cache[(h * capacity + pos + t) * d + e] = x[i];
  }
}

__global__ void head_to_token_kernel(const float* cache, int64_t capacity, int64_t tokens, int64_t heads, int64_t d,
                                     float* y) {
  ALP_GRID_STRIDE(i, tokens * heads * d) {
    const int64_t e = i % d, h = (i / d) % heads, t = i / (d * heads);
    y[i] = cache[(h * capacity + t) * d + e];
  }
}

template <DType WT>
__global__ void widen_kernel(WeightRef w, int64_t n, float* y) {
  ALP_GRID_STRIDE(i, n) y[i] = widen<WT>(w.data, i, w.scale);
}

__global__ void zero_kernel(float* p) { *p = 0.f; }

__global__ void amax_kernel(const float* x, int64_t n, float* amax) {
  float m = 0.f;
  ALP_GRID_STRIDE(i, n) m = fmaxf(m, fabsf(x[i]));
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  // Non-negative floats order like their bit patterns, so an integer max is an exact float max.
  if ((threadIdx.x & 31) == 0) atomicMax(reinterpret_cast<int*>(amax), __float_as_int(m));
}

__global__ void fp8_quant_kernel(const float* x, float* y, int64_t n, const float* amax) {
  const float a = *amax;
  const float scale = fp8_e4m3_scale(a);
  ALP_GRID_STRIDE(i, n) {
    const __nv_fp8_storage_t q = __nv_cvt_float_to_fp8(__fdiv_rn(x[i], scale), __NV_SATFINITE, __NV_E4M3);
    __nv_fp8_e4m3 v;
    v.__x = q;
    y[i] = __fmul_rn(static_cast<float>(v), scale);
  }
}

}  // namespace

void launch_unary(UnaryOp op, const float* x, float* y, int64_t n, float s_arg, cudaStream_t s) {
  if (n <= 0) return;
  unary_kernel<<<grid_for(n), kThreads, 0, s>>>(op, x, y, n, s_arg);
  check_launch("unary_kernel");
}

void launch_binary(BinaryOp op, const float* a, const float* b, float* y, int64_t n, int64_t nb, cudaStream_t s) {
  if (n <= 0) return;
  require(nb > 0 && n % nb == 0, ErrorCode::Internal,
          "binary_kernel: " + std::to_string(nb) + " b values do not broadcast over " + std::to_string(n));
  binary_kernel<<<grid_for(n), kThreads, 0, s>>>(op, a, b, y, n, nb);
  check_launch("binary_kernel");
}

void launch_fourier_features(const float* x, int64_t n, int64_t c, const float* freqs, int n_freqs, float* y,
                             cudaStream_t s) {
  const int nf = n_freqs;
  require(nf >= 1 && nf <= kMaxFourierFreqs, ErrorCode::InvalidInput,
          "fourier_features: " + std::to_string(nf) + " frequencies, expected 1.." + std::to_string(kMaxFourierFreqs));
  if (n * c <= 0) return;
  Freqs fr{};
  std::copy(freqs, freqs + nf, fr.f);
  fourier_kernel<<<grid_for(n * c * nf), kThreads, 0, s>>>(x, n, c, fr, nf, y);
  check_launch("fourier_kernel");
}

void launch_interp_rows(WeightRef table, const int32_t* idx, const float* w, int64_t n, int64_t taps, int64_t d,
                        float* y, cudaStream_t s) {
  if (n * d <= 0) return;
  ALP_DISPATCH_WEIGHT(table, "interp_rows", interp_rows_kernel<WT><<<grid_for(n * d), kThreads, 0, s>>>(table, idx, w, n, taps, d, y));
  check_launch("interp_rows_kernel");
}

void launch_row_update(float* x, const int32_t* idx, int64_t n_idx, const float* src, int64_t d, bool accumulate,
                       cudaStream_t s) {
  if (n_idx <= 0 || d <= 0) return;
  row_update_kernel<<<grid_for(d), kThreads, 0, s>>>(x, idx, n_idx, src, d, accumulate);
  check_launch("row_update_kernel");
}

void launch_transpose(const float* x, const int64_t* in_shape, const int* perm, int rank, float* y, cudaStream_t s) {
  require(rank >= 1 && rank <= kMaxRank, ErrorCode::InvalidInput,
          "transpose: rank " + std::to_string(rank) + ", expected 1.." + std::to_string(kMaxRank));
  int64_t in_stride[kMaxRank];
  in_stride[rank - 1] = 1;
  for (int i = rank - 1; i > 0; --i) in_stride[i - 1] = in_stride[i] * in_shape[i];
  Perm p{};
  p.rank = rank;
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) {
    p.out_shape[i] = in_shape[perm[i]];
    p.in_stride_of_out[i] = in_stride[perm[i]];
    n *= p.out_shape[i];
  }
  if (n <= 0) return;
  transpose_kernel<<<grid_for(n), kThreads, 0, s>>>(x, p, n, y);
  check_launch("transpose_kernel");
}

void launch_expand_rows(const float* x, int64_t n, int64_t d, float* y, cudaStream_t s) {
  if (n * d <= 0) return;
  expand_rows_kernel<<<grid_for(n * d), kThreads, 0, s>>>(x, n, d, y);
  check_launch("expand_rows_kernel");
}

void launch_token_to_head_major(const float* x, int64_t tokens, int64_t heads, int64_t d, float* cache,
                                int64_t capacity, int64_t pos, cudaStream_t s) {
  if (tokens * heads * d <= 0) return;
  token_to_head_kernel<<<grid_for(tokens * heads * d), kThreads, 0, s>>>(x, tokens, heads, d, cache, capacity, pos);
  check_launch("token_to_head_kernel");
}

void launch_head_to_token_major(const float* cache, int64_t capacity, int64_t tokens, int64_t heads, int64_t d,
                                float* y, cudaStream_t s) {
  if (tokens * heads * d <= 0) return;
  head_to_token_kernel<<<grid_for(tokens * heads * d), kThreads, 0, s>>>(cache, capacity, tokens, heads, d, y);
  check_launch("head_to_token_kernel");
}

void launch_widen(WeightRef w, int64_t n, float* y, cudaStream_t s) {
  if (n <= 0) return;
  ALP_DISPATCH_WEIGHT(w, "widen", widen_kernel<WT><<<grid_for(n), kThreads, 0, s>>>(w, n, y));
  check_launch("widen_kernel");
}

void launch_fp8_round_trip(const float* x, float* y, int64_t n, float* amax_scratch, cudaStream_t s) {
  zero_kernel<<<1, 1, 0, s>>>(amax_scratch);
  check_launch("zero_kernel");
  if (n <= 0) return;
  amax_kernel<<<std::min(grid_for(n), 1024), kThreads, 0, s>>>(x, n, amax_scratch);
  check_launch("amax_kernel");
  fp8_quant_kernel<<<grid_for(n), kThreads, 0, s>>>(x, y, n, amax_scratch);
  check_launch("fp8_quant_kernel");
}

}  // namespace alp::cuda
