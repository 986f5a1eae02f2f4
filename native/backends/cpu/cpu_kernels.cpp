#include "backends/cpu/cpu_kernels.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <vector>

#include "core/cancel.hpp"
#include "core/dtype.hpp"
#include "core/fp8_scale.hpp"

namespace alp::cpu {
namespace {

constexpr int64_t kLanes = 8;
constexpr int64_t kRows = 4;
constexpr int64_t kCols = 32;

// Weight element i as fp32: stored fp32, or bf16 bits widened exactly (bf16 is fp32's top half), so a
// bf16 weight gives bit-identical products to its fp32 copy at half the memory.
inline float wload(const float* w, int64_t i) { return w[i]; }
inline float wload(const uint16_t* w, int64_t i) { return std::bit_cast<float>(static_cast<uint32_t>(w[i]) << 16); }

// One dot product in a fixed order: kLanes strided partial sums, then lanes summed left to right,
// then the tail. The lane loop vectorises without -ffast-math because each lane is its own chain.
template <class W>
inline float dot(const float* a, const W* b, int64_t k) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= k; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) acc[l] += a[i + l] * wload(b, i + l);
  float s = 0.f;
  for (int64_t l = 0; l < kLanes; ++l) s += acc[l];
  for (; i < k; ++i) s += a[i] * wload(b, i);
  return s;
}

// Four rows against one weight row at once (the weight row is loaded once); per-row arithmetic is
// exactly dot()'s, so a row's result does not depend on which rows share its tile.
template <class W>
inline void dot4(const float* x, int64_t ldx, const W* w, int64_t k, float out[kRows]) {
  float acc[kRows][kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= k; i += kLanes) {
    float wl[kLanes];
    for (int64_t l = 0; l < kLanes; ++l) wl[l] = wload(w, i + l);
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t l = 0; l < kLanes; ++l) acc[r][l] += x[r * ldx + i + l] * wl[l];
  }
  for (int64_t r = 0; r < kRows; ++r) {
    float s = 0.f;
    for (int64_t l = 0; l < kLanes; ++l) s += acc[r][l];
    for (int64_t j = i; j < k; ++j) s += x[r * ldx + j] * wload(w, j);
    out[r] = s;
  }
}

template <class W>
void gemm_impl(ThreadPool& pool, const float* x, const W* w, const float* b, float* y, int64_t n, int64_t m, int64_t k) {
  const int64_t row_tiles = (n + kRows - 1) / kRows, col_tiles = (m + kCols - 1) / kCols;
  // Polled per tile: an aborted plan leaves a long GEMM early (the caller throws; y is discarded).
  const std::atomic<bool>* cancel = current_cancel_flag();
  // Tile order: the smaller operand is re-read while a tile of the larger one stays in cache. With few
  // rows (decode of K samples, the expert) each weight tile meets every row before the next, so the
  // weights stream from memory once per call, not once per 4 rows. The order changes no result.
  const bool weights_outer = n < m;
  pool.parallel_for(row_tiles * col_tiles, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      if (cancel && cancel->load(std::memory_order_relaxed)) return;
      const int64_t rt = weights_outer ? t % row_tiles : t / col_tiles, ct = weights_outer ? t / row_tiles : t % col_tiles;
      const int64_t r0 = rt * kRows, c0 = ct * kCols;
      const int64_t r1 = std::min(n, r0 + kRows), c1 = std::min(m, c0 + kCols);
      for (int64_t c = c0; c < c1; ++c) {
        const W* wr = w + c * k;
        const float bias = b ? b[c] : 0.f;
        if (r1 - r0 == kRows) {
          float o[kRows];
          dot4(x + r0 * k, k, wr, k, o);
          for (int64_t r = 0; r < kRows; ++r) y[(r0 + r) * m + c] = o[r] + bias;
        } else {
          for (int64_t r = r0; r < r1; ++r) y[r * m + c] = dot(x + r * k, wr, k) + bias;
        }
      }
    }
  });
}

}  // namespace

void gemm_nt(ThreadPool& pool, const float* x, const float* w, const float* b, float* y, int64_t n, int64_t m, int64_t k) {
  gemm_impl(pool, x, w, b, y, n, m, k);
}

void gemm_nt_bf16(ThreadPool& pool, const float* x, const uint16_t* w, const float* b, float* y, int64_t n, int64_t m,
                  int64_t k) {
  gemm_impl(pool, x, w, b, y, n, m, k);
}

void attention(ThreadPool& pool, const float* q, const float* k, const float* v, float* out, int64_t nq, int64_t nk,
               int64_t hq, int64_t hkv, int64_t d, float scale, bool causal, int64_t causal_past) {
  const int64_t group = hq / hkv;
  const std::atomic<bool>* cancel = current_cancel_flag();  // as in gemm_nt
  pool.parallel_for(nq * hq, [&](int64_t begin, int64_t end) {
    std::vector<float> s(static_cast<size_t>(nk));
    std::vector<float> acc(static_cast<size_t>(d));
    for (int64_t item = begin; item < end; ++item) {
      if (cancel && cancel->load(std::memory_order_relaxed)) return;
      const int64_t i = item / hq, h = item % hq, g = h / group;
      const int64_t visible = causal ? std::min(nk, causal_past + i + 1) : nk;
      const float* qi = q + (i * hq + h) * d;
      float mx = -INFINITY;
      for (int64_t j = 0; j < visible; ++j) {
        s[j] = dot(qi, k + (j * hkv + g) * d, d) * scale;
        mx = std::max(mx, s[j]);
      }
      float z = 0.f;
      for (int64_t j = 0; j < visible; ++j) z += s[j] = std::exp(s[j] - mx);
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int64_t j = 0; j < visible; ++j) {
        const float p = s[j] / z;
        const float* vj = v + (j * hkv + g) * d;
        for (int64_t e = 0; e < d; ++e) acc[e] += p * vj[e];
      }
      std::copy(acc.begin(), acc.end(), out + (i * hq + h) * d);
    }
  });
}

float fp8_round_trip(const float* x, float* out, int64_t n) {
  float amax = 0.f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float scale = fp8_e4m3_scale(amax);
  for (int64_t i = 0; i < n; ++i) out[i] = fp8e4m3_to_f32(f32_to_fp8e4m3(x[i] / scale)) * scale;
  return scale;
}

}  // namespace alp::cpu
