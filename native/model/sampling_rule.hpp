#pragma once
// The token-selection rule, written once for the host and the device (nvcc compiles this header into
// the CUDA selection kernel, native/backends/cuda/token_select.cu; the plain C++ build sees ALP_HD as
// nothing). Two layers:
//
//  1. Per-element rule: the masking, temperature, ordering, exp weight, top-p and draw comparisons.
//     model/sampling.cpp (the CPU executor's select_tokens: a sort and sequential sums, unchanged
//     arithmetic) and select_lane below both call exactly these.
//  2. select_lane<Block>: the whole rule for one lane as a block of `threads()` cooperating threads,
//     with only reductions between them. On the device each CUDA thread runs it (DeviceBlock: shared
//     memory reductions); on the host HostBlock runs the same code with the same partitioning and the
//     same reduction tree, so host tests exercise the kernel's own algorithm (model::select_lane_host).
//
// Where select_lane can differ from the CPU's sort rule (model::token_probabilities + TokenSampler):
//   - Sums. The CPU sums in index order (z, the renormalisation), in ascending-logit order (the top-p
//     cumulative) and in index order again (the draw). select_lane sums each thread's strided (or, for
//     the draw, contiguous) share in that same order and then adds the kSelectThreads partials in a
//     fixed tree (the draw: in thread order).
//     Every sum is deterministic, but its fp64 rounding differs from the sequential one: typically by
//     ~1e-16..1e-15 for 151k terms that sum to 1 (at worst n * 2^-53 ~ 2e-11), so a top-p cut or a
//     draw whose cumulative lies that close to 1 - top_p or to u may fall on the other side. exp()
//     may also differ by 1 ulp between glibc and CUDA's libdevice (the kernel divides with IEEE
//     rounding: no fast-math).
//   - Top-p. The CPU sorts; select_lane finds the same cut (the first (logit, id) in ascending order
//     whose cumulative mass exceeds 1 - top_p) by a 9-ary search on the 32-bit order key, then on the
//     id within a tied logit: deterministic, no sort, ~11 passes over the row (each evaluates the
//     mass at kSearchSplits keys). The cut is the same set whenever the sums above agree, because the
//     cumulative mass is monotone in the key.
//   Greedy (temperature 0) involves no sums: it is the first arg-max on both, bit for bit.
//   So the GPU check asserts: greedy identical; sampled identical on every row whose decisions (the
//   top-p cut and the draw) have a margin above 1e-12 on the CPU (test::decision_margin in
//   native/tests/sampling_cases.hpp), which on its random rows is every row (it prints how many were
//   excused; the expected count is 0, and the host test runs this algorithm over the same rows).
#include <cstdint>
#include <cstring>
#include <math.h>

#if defined(__CUDACC__)
#define ALP_HD __host__ __device__
#else
#define ALP_HD
#endif

namespace alp::model {

struct SamplingParams {
  float temperature = 0.6f;
  float top_p = 0.98f;
  int64_t masked_begin = 0, masked_end = 0;  // ids [begin, end) get -inf (the 4000 <iN> tokens)
};

// What one lane's selection gave: a token, or why not. The host turns a failure into the error
// select_tokens throws (model::raise_selection_failure).
enum SelectStatus : int32_t {
  kSelectOk = 0,
  kSelectNonFiniteLogit = 1,  // a raw logit is NaN/Inf: bad_index / bad_value say which (first by index)
  kSelectNoFiniteToken = 2,   // every id masked, or the scaled logits overflow to +inf
};
struct LaneSelection {
  int32_t id = -1;
  int32_t status = kSelectOk;
  int64_t bad_index = -1;
  float bad_value = 0.f;
};

namespace rule {

ALP_HD inline bool is_finite(float v) {
  uint32_t b;
  memcpy(&b, &v, sizeof b);
  return (b & 0x7f800000u) != 0x7f800000u;
}

ALP_HD inline float neg_inf() { return -INFINITY; }

// The logit an id competes with: -inf when masked, else logit / temperature (temperature > 0; the
// division is IEEE round-to-nearest on both sides: no fast-math here or in the kernel).
ALP_HD inline float scaled_logit(float logit, int64_t id, const SamplingParams& p) {
  if (id >= p.masked_begin && id < p.masked_end) return neg_inf();
  if (p.temperature > 0) {
#if defined(__CUDA_ARCH__)
    return __fdiv_rn(logit, p.temperature);
#else
    return logit / p.temperature;
#endif
  }
  return logit;
}

// Unnormalised probability weight of a scaled logit against the maximum, in fp64.
ALP_HD inline double exp_weight(float s, float mx) { return exp(static_cast<double>(s) - mx); }

// Ascending selection order: by scaled logit, ties by id (what a stable sort by logit gives).
ALP_HD inline bool before(float sa, int64_t a, float sb, int64_t b) { return sa < sb || (sa == sb && a < b); }

// An order-preserving 32-bit key of a scaled logit (never NaN): key(a) < key(b) iff a < b, and
// -0 == +0 as for `<`.
ALP_HD inline uint32_t order_key(float s) {
  if (s == 0.0f) s = 0.0f;
  uint32_t b;
  memcpy(&b, &s, sizeof b);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// HF TopPLogitsWarper: in ascending order, a token goes while the cumulative probability up to and
// including it is <= 1 - top_p (the most likely token always stays).
ALP_HD inline double top_p_threshold(float top_p) { return 1.0 - static_cast<double>(top_p); }
ALP_HD inline bool top_p_removes(double cumulative, double threshold) { return cumulative <= threshold; }

// The draw: the first kept id (index order) whose cumulative probability exceeds u.
ALP_HD inline bool draw_hits(double u, double cumulative) { return u < cumulative; }

inline constexpr int64_t kNone = INT64_MAX;

// Threads of one lane's selection block, on the device and in the host emulation alike (the
// reduction tree, and so every rounding, depends on it), and the keys one top-p search pass
// evaluates. 512 x 8 keeps the search's accumulators in registers and its slots in 32 KB of shared
// memory.
inline constexpr int kSelectThreads = 512;
inline constexpr int kSearchSplits = 8;

// The smallest x in [lo, hi) with above(x), or hi when there is none (hi itself is never evaluated),
// for a monotone predicate evaluated kSearchSplits points at a time: mass_n(split, out) fills
// out[j] for the keys split[j]. Each out[j] must not depend on the other splits (select_lane's sums
// add exact zeros for the others), so the result does not depend on this schedule.
template <class MassN>
ALP_HD uint64_t first_above(uint64_t lo, uint64_t hi, double thr, MassN mass_n) {
  while (lo < hi) {
    const uint64_t span = hi - lo;
    uint64_t split[kSearchSplits];
    for (int j = 0; j < kSearchSplits; ++j) split[j] = lo + span * uint64_t(j + 1) / uint64_t(kSearchSplits + 1);
    double m[kSearchSplits];
    mass_n(split, m);
    int j = 0;
    while (j < kSearchSplits && top_p_removes(m[j], thr)) ++j;
    if (j < kSearchSplits) {
      if (j > 0) lo = split[j - 1] + 1;
      hi = split[j];
    } else {
      lo = split[kSearchSplits - 1] + 1;
    }
  }
  return lo;
}

struct MinI64 {
  ALP_HD int64_t operator()(int64_t a, int64_t b) const { return a < b ? a : b; }
};
struct MaxI64 {
  ALP_HD int64_t operator()(int64_t a, int64_t b) const { return a < b ? b : a; }
};
struct MaxU64 {
  ALP_HD uint64_t operator()(uint64_t a, uint64_t b) const { return a < b ? b : a; }
};
struct MinU64 {
  ALP_HD uint64_t operator()(uint64_t a, uint64_t b) const { return a < b ? a : b; }
};
struct SumF64 {
  ALP_HD double operator()(double a, double b) const { return a + b; }
};

}  // namespace rule

// One lane's next token under `p`, as `b.threads()` cooperating threads (a power of two). `row` is the
// lane's `vocab` raw logits, `u` its uniform draw in [0, 1) (unused when greedy), `prob` `vocab`
// doubles of scratch. Every thread returns the same result. Block provides:
//   int threads();
//   T reduce<T>(partial, op): partial(t) is thread t's share; the results are combined as
//     a[t] = op(a[t], a[t + off]) for off = threads/2, ..., 1 and a[0] is returned to every thread;
//   void sum_n(partial, out): partial(t, acc) fills thread t's kSearchSplits partial sums; out[j] is
//     the same tree as reduce's over the acc[j] of every thread;
//   int64_t scan_min(partial, finish): exclusive prefix sums P[t] of partial(t) (added in thread
//     order), then the minimum over threads of finish(t, P[t]).
// Thread t's strided share is ids t, t + T, ...; its contiguous share (the draw) is
// [t * chunk, (t + 1) * chunk) with chunk = ceil(vocab / T).
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <class Block>
ALP_HD LaneSelection select_lane(Block& b, const float* row, int64_t vocab, double u, const SamplingParams& p,
                                 double* prob) {
  using namespace rule;
  const int T = b.threads();
  LaneSelection r;
  // Logits come from the weights alone, so a NaN/Inf anywhere in the row (masked ids included, as
  // select_tokens checks the raw row) blames the checkpoint.
  const int64_t bad = b.template reduce<int64_t>(
      [&](int t) {
        for (int64_t i = t; i < vocab; i += T)
          if (!is_finite(row[i])) return i;
        return kNone;
      },
      MinI64{});
  if (bad != kNone) {
    r.status = kSelectNonFiniteLogit;
    r.bad_index = bad;
    r.bad_value = row[bad];
    return r;
  }
  // The first arg-max: max order key, ties to the smallest id (its complement is larger).
  const uint64_t best = b.template reduce<uint64_t>(
      [&](int t) {
        uint64_t m = 0;
        for (int64_t i = t; i < vocab; i += T) {
          const uint64_t k = (uint64_t(order_key(scaled_logit(row[i], i, p))) << 32) | uint64_t(~uint32_t(i));
          m = m < k ? k : m;
        }
        return m;
      },
      MaxU64{});
  const int64_t best_id = int64_t(~uint32_t(best & 0xffffffffu));
  const float mx = scaled_logit(row[best_id], best_id, p);
  if (!is_finite(mx)) {
    r.status = kSelectNoFiniteToken;
    return r;
  }
  if (p.temperature == 0) {
    r.id = int32_t(best_id);
    return r;
  }
  // prob[i] = exp(s_i - max) / z, as token_probabilities.
  const double z = b.template reduce<double>(
      [&](int t) {
        double acc = 0;
        for (int64_t i = t; i < vocab; i += T) acc += prob[i] = exp_weight(scaled_logit(row[i], i, p), mx);
        return acc;
      },
      SumF64{});
  // Normalised, as token_probabilities' second loop.
  (void)b.template reduce<double>(
      [&](int t) {
        for (int64_t i = t; i < vocab; i += T) prob[i] = prob[i] / z;
        return 0.0;
      },
      SumF64{});
  bool cut_tokens = false;
  uint64_t cut_key = 0;
  int64_t cut_id = 0;  // removed: (key, id) < (cut_key, cut_id)
  double kept = 1;
  if (p.top_p < 1) {
    const double thr = top_p_threshold(p.top_p);
    // out[j]: the probability mass of every id at or below (key[j], id_max[j]) in selection order.
    auto mass_n = [&](const uint64_t* key, const int64_t* id_max, double* out) {
      b.sum_n(
          [&](int t, double* acc) {
            // Copies with constant indices once unrolled: registers, not the caller's stack arrays.
            uint64_t kk[kSearchSplits];
            int64_t ii[kSearchSplits];
            for (int j = 0; j < kSearchSplits; ++j) acc[j] = 0, kk[j] = key[j], ii[j] = id_max[j];
            for (int64_t i = t; i < vocab; i += T) {
              const uint64_t k = order_key(scaled_logit(row[i], i, p));
              const double pr = prob[i];
              for (int j = 0; j < kSearchSplits; ++j)
                if (k < kk[j] || (k == kk[j] && i <= ii[j])) acc[j] += pr;
            }
          },
          out);
    };
    const uint64_t key_hi = order_key(mx);
    const uint64_t key_lo = b.template reduce<uint64_t>(
        [&](int t) {
          uint64_t m = key_hi;
          for (int64_t i = t; i < vocab; i += T) {
            const float s = scaled_logit(row[i], i, p);
            if (is_finite(s)) {
              const uint64_t k = order_key(s);
              m = k < m ? k : m;
            }
          }
          return m;
        },
        MinU64{});
    // Level 1: the smallest key whose cumulative mass exceeds thr (key_hi + 1: none does).
    const uint64_t lo = first_above(key_lo, key_hi + 1, thr, [&](const uint64_t* split, double* out) {
      int64_t any[kSearchSplits];
      for (int j = 0; j < kSearchSplits; ++j) any[j] = kNone;
      mass_n(split, any, out);
    });
    cut_tokens = true;
    // The ids sharing that key are cut in id order: level 2 over [first id, last id] of the key.
    const uint64_t key = lo > key_hi ? key_hi : lo;
    const int64_t id_first = b.template reduce<int64_t>(
        [&](int t) {
          for (int64_t i = t; i < vocab; i += T)
            if (order_key(scaled_logit(row[i], i, p)) == key) return i;
          return kNone;
        },
        MinI64{});
    const int64_t id_last = b.template reduce<int64_t>(
        [&](int t) {
          int64_t m = -1;
          for (int64_t i = t; i < vocab; i += T)
            if (order_key(scaled_logit(row[i], i, p)) == key) m = i;
          return m;
        },
        MaxI64{});
    cut_key = key;
    if (lo > key_hi) {
      // Every cumulative <= thr: all go but the last token in order (the most likely, last id).
      cut_id = id_last;
    } else {
      // mass(key, id_last) == level 1's mass(key) > thr: the answer is in [id_first, id_last].
      cut_id = int64_t(first_above(uint64_t(id_first), uint64_t(id_last), thr, [&](const uint64_t* split, double* out) {
        uint64_t keys[kSearchSplits];
        int64_t ids[kSearchSplits];
        for (int j = 0; j < kSearchSplits; ++j) keys[j] = key, ids[j] = int64_t(split[j]);
        mass_n(keys, ids, out);
      }));
    }
    kept = b.template reduce<double>(
        [&](int t) {
          double acc = 0;
          for (int64_t i = t; i < vocab; i += T) {
            const uint64_t k = order_key(scaled_logit(row[i], i, p));
            if (k < cut_key || (k == cut_key && i < cut_id)) prob[i] = 0.0;
            acc += prob[i];
          }
          return acc;
        },
        SumF64{});
  }
  // The draw, as TokenSampler::next: cumulative over kept ids in index order. Each thread walks its
  // contiguous chunk from the sum of the chunks before it.
  const int64_t chunk = (vocab + T - 1) / T;
  const bool renorm = cut_tokens;
  auto q = [&](int64_t i) { return renorm ? prob[i] / kept : prob[i]; };
  const int64_t hit = b.scan_min(
      [&](int t) {
        double acc = 0;
        const int64_t end = (int64_t(t) + 1) * chunk < vocab ? (int64_t(t) + 1) * chunk : vocab;
        for (int64_t i = int64_t(t) * chunk; i < end; ++i) {
          const double v = q(i);
          if (v > 0) acc += v;
        }
        return acc;
      },
      [&](int t, double cum) {
        const int64_t end = (int64_t(t) + 1) * chunk < vocab ? (int64_t(t) + 1) * chunk : vocab;
        for (int64_t i = int64_t(t) * chunk; i < end; ++i) {
          const double v = q(i);
          if (!(v > 0)) continue;
          cum += v;
          if (draw_hits(u, cum)) return i;
        }
        return kNone;
      });
  if (hit != kNone) {
    r.id = int32_t(hit);
    return r;
  }
  // u within rounding of 1: the last kept id.
  r.id = int32_t(b.template reduce<int64_t>(
      [&](int t) {
        int64_t m = -1;
        for (int64_t i = t; i < vocab; i += T)
          if (q(i) > 0) m = i;
        return m;
      },
      MaxI64{}));
  return r;
}

}  // namespace alp::model
