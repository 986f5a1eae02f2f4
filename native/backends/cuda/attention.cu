#include <algorithm>
#include <string>

#include "backends/cuda/attention.hpp"
#include "backends/cuda/cuda_check.hpp"

namespace alp::cuda {
namespace {

constexpr int kWarps = 8;         // (query, head) pairs per block
constexpr int kTile = 32;         // keys per shared-memory tile: one per lane when scoring
constexpr int kMaxPerLane = 8;    // head_dim <= 32 * 8
constexpr int kDecodeChunk = 256; // keys per split in decode

struct Params {
  const float* q;
  const float* k;
  const float* v;
  float* out;        // final output (n_splits == 1)
  float* partial;    // [batch, n_q, n_heads, n_splits, head_dim + 2] (n_splits > 1)
  int n_heads, n_kv, head_dim, group;
  int64_t n_q, q_offset, kv_len, kv_cap, kv_bstride;
  int n_splits;
  int64_t split_len;  // keys per split, a multiple of kTile
  bool causal;
  float scale;
};

__device__ __forceinline__ int64_t key_limit(const Params& p, int64_t qi) {
  return p.causal ? min(p.kv_len, p.q_offset + qi + 1) : p.kv_len;
}

// grid: x = ceil(n_q * group / kWarps), y = n_kv, z = batch * n_splits. Dynamic smem:
// K and V tiles [kTile][head_dim + 1] (padding: lanes read different rows of the same column) and one
// query row per warp.
__global__ void __launch_bounds__(kWarps * 32) attention_kernel(Params p) {
  extern __shared__ float smem[];
  const int D = p.head_dim, Dp = D + 1;
  float* Ks = smem;
  float* Vs = Ks + kTile * Dp;
  float* Qs = Vs + kTile * Dp;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int kvh = blockIdx.y;
  const int b = blockIdx.z / p.n_splits, split = blockIdx.z % p.n_splits;

  const int64_t pair = int64_t(blockIdx.x) * kWarps + warp;
  const int64_t qi = pair / p.group;
  const int h = kvh * p.group + int(pair % p.group);
  const bool active = qi < p.n_q;
  const int64_t my_limit = active ? key_limit(p, qi) : 0;

  // Keys this block visits: its split, cut at the furthest limit among its queries.
  const int64_t last_q = min(p.n_q - 1, (int64_t(blockIdx.x) * kWarps + kWarps - 1) / p.group);
  const int64_t k_begin = int64_t(split) * p.split_len;
  const int64_t k_end = min(k_begin + p.split_len, key_limit(p, last_q));

  float* qs = Qs + warp * D;
  if (active) {
    const float* qrow = p.q + ((int64_t(b) * p.n_q + qi) * p.n_heads + h) * D;
    for (int d = lane; d < D; d += 32) qs[d] = qrow[d] * p.scale;
  }
  float m = -INFINITY, l = 0.f, acc[kMaxPerLane];
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e) acc[e] = 0.f;

  const int64_t kv_base = int64_t(b) * p.kv_bstride + int64_t(kvh) * p.kv_cap * D;
  for (int64_t t0 = k_begin; t0 < k_end; t0 += kTile) {
    __syncthreads();  // previous tile fully consumed (and Qs written before the first use)
    const int n_rows = int(min(int64_t(kTile), k_end - t0));
    for (int i = threadIdx.x; i < n_rows * D; i += blockDim.x) {
      const int r = i / D, d = i % D;
      Ks[r * Dp + d] = p.k[kv_base + (t0 + r) * D + d];
      Vs[r * Dp + d] = p.v[kv_base + (t0 + r) * D + d];
    }
    __syncthreads();
    if (!active) continue;
    // Lane j scores key t0 + j.
    float sc = -INFINITY;
    if (lane < n_rows && t0 + lane < my_limit) {
      float dot = 0.f;
      for (int d = 0; d < D; ++d) dot = fmaf(qs[d], Ks[lane * Dp + d], dot);
      sc = dot;
    }
    float tmax = sc;
    for (int o = 16; o > 0; o >>= 1) tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, o));
    if (tmax == -INFINITY) continue;  // every key of this tile is masked for this query
    const float new_m = fmaxf(m, tmax);
    const float alpha = m == -INFINITY ? 0.f : expf(m - new_m);
    const float pj = sc == -INFINITY ? 0.f : expf(sc - new_m);
    float psum = pj;
    for (int o = 16; o > 0; o >>= 1) psum += __shfl_xor_sync(0xffffffffu, psum, o);
    l = l * alpha + psum;
    m = new_m;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) acc[e] *= alpha;
    for (int j = 0; j < n_rows; ++j) {
      const float pb = __shfl_sync(0xffffffffu, pj, j);
      if (pb == 0.f) continue;
#pragma unroll
      for (int e = 0; e < kMaxPerLane; ++e) {
        const int d = lane + 32 * e;
        if (d < D) acc[e] = fmaf(pb, Vs[j * Dp + d], acc[e]);
      }
    }
  }
  if (!active) return;
  const int64_t row = (int64_t(b) * p.n_q + qi) * p.n_heads + h;
  if (p.n_splits == 1) {
    const float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int d = lane + 32 * e;
      if (d < D) p.out[row * D + d] = acc[e] * inv;
    }
  } else {
    float* part = p.partial + (row * p.n_splits + split) * (D + 2);
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int d = lane + 32 * e;
      if (d < D) part[d] = acc[e];
    }
    if (lane == 0) {
      part[D] = m;
      part[D + 1] = l;
    }
  }
}

// One block per output row: rescales each split's (m, l, acc) to the global max and normalises.
__global__ void combine_kernel(const float* partial, float* out, int n_splits, int D) {
  const int64_t row = blockIdx.x;
  const float* part = partial + row * n_splits * (D + 2);
  float M = -INFINITY;
  for (int sidx = 0; sidx < n_splits; ++sidx) M = fmaxf(M, part[sidx * (D + 2) + D]);
  float L = 0.f;
  for (int sidx = 0; sidx < n_splits; ++sidx) {
    const float ms = part[sidx * (D + 2) + D];
    if (ms != -INFINITY) L += part[sidx * (D + 2) + D + 1] * expf(ms - M);
  }
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float a = 0.f;
    for (int sidx = 0; sidx < n_splits; ++sidx) {
      const float ms = part[sidx * (D + 2) + D];
      if (ms != -INFINITY) a += part[sidx * (D + 2) + d] * expf(ms - M);
    }
    out[row * D + d] = L > 0.f ? a / L : 0.f;
  }
}

void check_shape(const AttentionShape& sh, const char* what) {
  const std::string w(what);
  require(sh.batch >= 1 && sh.n_heads >= 1 && sh.n_kv_heads >= 1 && sh.n_heads % sh.n_kv_heads == 0,
          ErrorCode::InvalidInput,
          w + ": heads " + std::to_string(sh.n_heads) + " / kv heads " + std::to_string(sh.n_kv_heads) +
              " (batch " + std::to_string(sh.batch) + "): need n_heads a positive multiple of n_kv_heads");
  require(sh.head_dim >= 1 && sh.head_dim <= 32 * kMaxPerLane, ErrorCode::InvalidInput,
          w + ": head_dim " + std::to_string(sh.head_dim) + ", expected 1.." + std::to_string(32 * kMaxPerLane));
}

size_t smem_bytes(int D) { return sizeof(float) * (2 * size_t(kTile) * (D + 1) + size_t(kWarps) * D); }

void launch(Params p, int batch, cudaStream_t s) {
  const int64_t pairs = p.n_q * p.group;
  const dim3 grid(unsigned((pairs + kWarps - 1) / kWarps), unsigned(p.n_kv), unsigned(batch * p.n_splits));
  const size_t smem = smem_bytes(p.head_dim);
  if (smem > 48 * 1024) check(cudaFuncSetAttribute(attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)),
                              "cudaFuncSetAttribute(attention_kernel)");
  attention_kernel<<<grid, kWarps * 32, smem, s>>>(p);
  check_launch("attention_kernel");
}

Params base_params(const float* q, const float* k, const float* v, float* out, const AttentionShape& sh,
                   int64_t kv_len, float scale) {
  Params p{};
  p.q = q;
  p.k = k;
  p.v = v;
  p.out = out;
  p.n_heads = sh.n_heads;
  p.n_kv = sh.n_kv_heads;
  p.head_dim = sh.head_dim;
  p.group = sh.n_heads / sh.n_kv_heads;
  p.kv_len = kv_len;
  p.kv_cap = sh.kv_capacity;
  p.kv_bstride = sh.kv_batch_stride >= 0 ? sh.kv_batch_stride : int64_t(sh.n_kv_heads) * sh.kv_capacity * sh.head_dim;
  p.scale = scale;
  return p;
}

int decode_splits(int64_t kv_len) { return int(std::max<int64_t>(1, (kv_len + kDecodeChunk - 1) / kDecodeChunk)); }

}  // namespace

void launch_attention_prefill(const float* q, const float* k, const float* v, float* out, const AttentionShape& shape,
                              int64_t n_q, int64_t q_offset, int64_t kv_len, bool causal, float scale, cudaStream_t s) {
  check_shape(shape, "attention_prefill");
  require(kv_len >= 0 && kv_len <= shape.kv_capacity, ErrorCode::InvalidInput,
          "attention_prefill: kv_len " + std::to_string(kv_len) + " outside [0, kv_capacity " +
              std::to_string(shape.kv_capacity) + "]");
  if (n_q <= 0) return;
  Params p = base_params(q, k, v, out, shape, kv_len, scale);
  p.n_q = n_q;
  p.q_offset = q_offset;
  p.causal = causal;
  p.n_splits = 1;
  p.split_len = ((kv_len + kTile - 1) / kTile) * kTile + kTile;
  launch(p, shape.batch, s);
}

size_t attention_decode_workspace_bytes(const AttentionShape& shape, int64_t max_kv_len) {
  return sizeof(float) * size_t(shape.batch) * shape.n_heads * decode_splits(max_kv_len) * (shape.head_dim + 2);
}

void launch_attention_decode(const float* q, const float* k, const float* v, float* out, const AttentionShape& shape,
                             int64_t kv_len, float scale, void* workspace, size_t workspace_bytes, cudaStream_t s) {
  check_shape(shape, "attention_decode");
  require(kv_len >= 1 && kv_len <= shape.kv_capacity, ErrorCode::InvalidInput,
          "attention_decode: kv_len " + std::to_string(kv_len) + " outside [1, kv_capacity " +
              std::to_string(shape.kv_capacity) + "]");
  const size_t need = attention_decode_workspace_bytes(shape, kv_len);
  require(workspace_bytes >= need, ErrorCode::InvalidInput,
          "attention_decode: workspace " + std::to_string(workspace_bytes) + " bytes, need " + std::to_string(need));
  Params p = base_params(q, k, v, out, shape, kv_len, scale);
  p.n_q = 1;
  p.q_offset = kv_len - 1;
  p.causal = false;
  p.n_splits = decode_splits(kv_len);
  p.split_len = kDecodeChunk;
  p.partial = static_cast<float*>(workspace);
  launch(p, shape.batch, s);
  if (p.n_splits > 1) {
    combine_kernel<<<unsigned(int64_t(shape.batch) * shape.n_heads), 128, 0, s>>>(p.partial, out, p.n_splits,
                                                                                  shape.head_dim);
    check_launch("combine_kernel");
  }
}

}  // namespace alp::cuda
