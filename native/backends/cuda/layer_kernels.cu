#include <cmath>
#include <string>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/layer_kernels.hpp"
#include "backends/cuda/load_widen.cuh"

namespace alp::cuda {
namespace {

constexpr int kRowThreads = 256;

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block; every thread gets the result. `red` holds one float per warp.
__device__ float block_sum(float v, float* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // `red` may still be read from a previous call
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float t = 0.f;
  for (int w = 0; w < int(blockDim.x >> 5); ++w) t += red[w];
  return t;
}

template <DType WT>
__global__ void rmsnorm_kernel(const float* x, WeightRef w, float* y, int dim, float eps) {
  __shared__ float red[32];
  const float* xr = x + int64_t(blockIdx.x) * dim;
  float* yr = y + int64_t(blockIdx.x) * dim;
  float ss = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  const float inv = rsqrtf(block_sum(ss, red) / float(dim) + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = widen<WT>(w.data, i, w.scale) * (xr[i] * inv);
}

template <DType WT, DType BT>
__global__ void layernorm_kernel(const float* x, WeightRef w, WeightRef b, float* y, int dim, float eps) {
  __shared__ float red[32];
  const float* xr = x + int64_t(blockIdx.x) * dim;
  float* yr = y + int64_t(blockIdx.x) * dim;
  float s = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) s += xr[i];
  const float mean = block_sum(s, red) / float(dim);
  float v = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) v += (xr[i] - mean) * (xr[i] - mean);
  const float inv = rsqrtf(block_sum(v, red) / float(dim) + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float bias = b.data ? widen<BT>(b.data, i, b.scale) : 0.f;
    yr[i] = (xr[i] - mean) * inv * widen<WT>(w.data, i, w.scale) + bias;
  }
}

__global__ void rope_kernel(float* x, const float* cos, const float* sin, int64_t tokens, int heads, int head_dim) {
  const int half = head_dim / 2;
  const int64_t total = tokens * heads * half;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int j = int(i % half);
    const int64_t th = i / half;  // token * heads + head
    const int64_t t = th / heads;
    float* xv = x + th * head_dim;
    const float* c = cos + t * head_dim;
    const float* sn = sin + t * head_dim;
    const float a = xv[j], b = xv[j + half];
    xv[j] = a * c[j] - b * sn[j];
    xv[j + half] = b * c[j + half] + a * sn[j + half];
  }
}

__device__ __forceinline__ float silu(float g) { return g / (1.0f + expf(-g)); }

__global__ void swiglu_kernel(const float* gu, float* out, int64_t rows, int inter) {
  const int64_t total = rows * inter;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / inter;
    const int c = int(i % inter);
    out[i] = silu(gu[r * 2 * inter + c]) * gu[r * 2 * inter + inter + c];
  }
}

__global__ void gelu_tanh_kernel(const float* x, float* y, int64_t n) {
  constexpr float k = 0.7978845608028654f;  // sqrt(2 / pi)
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
  }
}

__global__ void add_kernel(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = a[i] + b[i];
}

template <DType WT>
__global__ void embedding_kernel(const int32_t* ids, WeightRef table, int64_t vocab, int dim, float* out) {
  const int32_t id = ids[blockIdx.x];
  float* o = out + int64_t(blockIdx.x) * dim;
  const bool ok = id >= 0 && id < vocab;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = ok ? widen<WT>(table.data, int64_t(id) * dim + i, table.scale) : 0.f;
}

// (value, index) order for argmax: NaN beats everything, then larger value, then smaller index.
__device__ __forceinline__ bool better(float va, int ia, float vb, int ib) {
  const bool na = va != va, nb = vb != vb;
  if (na != nb) return na;
  if (!na && va != vb) return va > vb;
  return ia < ib;
}

__global__ void argmax_kernel(const float* x, int64_t cols, int32_t* out) {
  __shared__ float sv[32];
  __shared__ int si[32];
  const float* xr = x + int64_t(blockIdx.x) * cols;
  float bv = -INFINITY;
  int bi = INT_MAX;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x)
    if (better(xr[i], int(i), bv, bi)) {
      bv = xr[i];
      bi = int(i);
    }
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (better(ov, oi, bv, bi)) {
      bv = ov;
      bi = oi;
    }
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    sv[warp] = bv;
    si[warp] = bi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < int(blockDim.x >> 5); ++w)
      if (better(sv[w], si[w], bv, bi)) {
        bv = sv[w];
        bi = si[w];
      }
    out[blockIdx.x] = bi == INT_MAX ? 0 : bi;
  }
}

int grid_1d(int64_t n, int threads = 256) {
  return int(std::min<int64_t>(std::max<int64_t>((n + threads - 1) / threads, 1), 65535));
}

void require_rows(int64_t rows, const char* what) {
  require(rows <= 0x7fffffff, ErrorCode::InvalidInput,
          std::string(what) + ": rows " + std::to_string(rows) + " exceed one grid dimension (2^31-1)");
}

}  // namespace

void launch_rmsnorm(const float* x, WeightRef w, float* y, int64_t rows, int dim, float eps, cudaStream_t s) {
  if (rows <= 0) return;
  require_rows(rows, "rmsnorm");
  ALP_DISPATCH_WEIGHT(w, "rmsnorm", rmsnorm_kernel<WT><<<unsigned(rows), kRowThreads, 0, s>>>(x, w, y, dim, eps));
  check_launch("rmsnorm_kernel");
}

void launch_layernorm(const float* x, WeightRef w, WeightRef b, float* y, int64_t rows, int dim, float eps,
                      cudaStream_t s) {
  if (rows <= 0) return;
  require_rows(rows, "layernorm");
  require(!b.data || b.dtype == w.dtype, ErrorCode::InvalidInput, "layernorm: bias dtype differs from weight dtype");
  ALP_DISPATCH_WEIGHT(w, "layernorm",
                      layernorm_kernel<WT, WT><<<unsigned(rows), kRowThreads, 0, s>>>(x, w, b, y, dim, eps));
  check_launch("layernorm_kernel");
}

void launch_rope(float* x, const float* cos, const float* sin, int64_t tokens, int heads, int head_dim,
                 cudaStream_t s) {
  require(head_dim % 2 == 0, ErrorCode::InvalidInput, "rope: head_dim " + std::to_string(head_dim) + " is odd");
  const int64_t n = tokens * heads * (head_dim / 2);
  if (n <= 0) return;
  rope_kernel<<<grid_1d(n), 256, 0, s>>>(x, cos, sin, tokens, heads, head_dim);
  check_launch("rope_kernel");
}

void launch_swiglu(const float* gate_up, float* out, int64_t rows, int inter, cudaStream_t s) {
  if (rows * inter <= 0) return;
  swiglu_kernel<<<grid_1d(rows * inter), 256, 0, s>>>(gate_up, out, rows, inter);
  check_launch("swiglu_kernel");
}

void launch_gelu_tanh(const float* x, float* y, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  gelu_tanh_kernel<<<grid_1d(n), 256, 0, s>>>(x, y, n);
  check_launch("gelu_tanh_kernel");
}

void launch_add(const float* a, const float* b, float* y, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  add_kernel<<<grid_1d(n), 256, 0, s>>>(a, b, y, n);
  check_launch("add_kernel");
}

void launch_embedding_gather(const int32_t* ids, int64_t n_ids, WeightRef table, int64_t vocab, int dim, float* out,
                             cudaStream_t s) {
  if (n_ids <= 0) return;
  require_rows(n_ids, "embedding_gather");
  ALP_DISPATCH_WEIGHT(table, "embedding_gather",
                      embedding_kernel<WT><<<unsigned(n_ids), 128, 0, s>>>(ids, table, vocab, dim, out));
  check_launch("embedding_kernel");
}

void launch_argmax_rows(const float* x, int64_t rows, int64_t cols, int32_t* out, cudaStream_t s) {
  if (rows <= 0) return;
  require_rows(rows, "argmax_rows");
  require(cols >= 1 && cols <= 0x7fffffff, ErrorCode::InvalidInput,
          "argmax_rows: cols " + std::to_string(cols) + ", expected 1..2^31-1");
  argmax_kernel<<<unsigned(rows), 1024, 0, s>>>(x, cols, out);
  check_launch("argmax_kernel");
}

}  // namespace alp::cuda
