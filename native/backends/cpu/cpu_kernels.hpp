#pragma once
// The CPU executor's numeric kernels on raw fp32 arrays (no Ops, no Values), so tests can pin them
// against hand-computed numbers.
#include <cstdint>

#include "backends/cpu/thread_pool.hpp"

namespace alp::cpu {

// y[N, M] = x[N, K] · w[M, K]ᵀ + b[M] (b may be null). Each y element is one fixed-order dot product
// (8 interleaved partial sums), so results are identical for any thread count and any N.
void gemm_nt(ThreadPool& pool, const float* x, const float* w, const float* b, float* y, int64_t n, int64_t m, int64_t k);
// The same with bf16 weights (raw bits), widened exactly in the inner loop: bit-identical to gemm_nt
// on the widened weights, at half the weight memory.
void gemm_nt_bf16(ThreadPool& pool, const float* x, const uint16_t* w, const float* b, float* y, int64_t n, int64_t m,
                  int64_t k);

// out[Nq, Hq, D] = softmax(q·kᵀ·scale) · v per head, GQA (query head h reads kv head h / (Hq / Hkv)).
// Query i sees keys [0, min(nk, causal_past + i + 1)) when causal, else all nk keys.
void attention(ThreadPool& pool, const float* q, const float* k, const float* v, float* out, int64_t nq, int64_t nk,
               int64_t hq, int64_t hkv, int64_t d, float scale, bool causal, int64_t causal_past);

// Per-tensor e4m3 round trip: scale = amax / 448, x -> fp8(x / scale) · scale. Returns the scale.
float fp8_round_trip(const float* x, float* out, int64_t n);

}  // namespace alp::cpu
