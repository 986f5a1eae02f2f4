#pragma once
// Shared by the token-selection tests (model_sampling_test.cpp on the host, cuda_token_select_test.cpp
// on the device): random logit rows, the CPU sort rule's choice for a sampler state, and how close
// that choice came to flipping (the margin rule of model/sampling_rule.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

#include "model/sampling.hpp"

namespace alp::test {

// Logits shaped like a language model's: a smooth bulk in [-scale, scale] plus a few spikes, so
// top-p cuts fall inside a long tail. 64-bit LCG, reproducible.
inline std::vector<float> logit_row(uint64_t seed, int64_t vocab, float scale = 8.f) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  auto next = [&] {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>(static_cast<uint32_t>(s >> 33) >> 7) / 8388608.0f;  // [0, 1), 24 bits
  };
  std::vector<float> row(static_cast<size_t>(vocab));
  for (float& v : row) v = (next() * 2 - 1) * scale;
  for (int k = 0; k < 8 && k < vocab; ++k) row[static_cast<size_t>(next() * float(vocab)) % row.size()] += 3 * scale * next();
  return row;
}

// The CPU executor's choice (TokenSampler::next) for a sampler in `state`, and the uniform it drew.
struct CpuChoice {
  int64_t id;
  double u;
};
inline CpuChoice cpu_choice(std::span<const float> row, uint64_t state, const model::SamplingParams& p) {
  model::TokenSampler s(state), shadow(state);
  const double u = p.temperature > 0 ? shadow.uniform() : 0.0;
  return {s.next(row, p), u};
}

// The distance, on the CPU's own sums, from each decision to its threshold: every ascending-order
// cumulative to 1 - top_p, every index-order cumulative of the kept probabilities to u. A selection
// that sums in another order can only decide differently where this is below the sums' rounding
// (~1e-15 for 151k terms in fp64). Greedy: +inf.
inline double decision_margin(std::span<const float> row, double u, const model::SamplingParams& p) {
  if (p.temperature == 0) return std::numeric_limits<double>::infinity();
  double m = std::numeric_limits<double>::infinity();
  if (p.top_p < 1) {
    model::SamplingParams all = p;
    all.top_p = 1;
    const std::vector<double> prob = model::token_probabilities(row, all);
    std::vector<float> s(row.size());
    for (size_t i = 0; i < s.size(); ++i) s[i] = model::rule::scaled_logit(row[i], static_cast<int64_t>(i), p);
    std::vector<size_t> order(row.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s[a] < s[b]; });
    const double thr = model::rule::top_p_threshold(p.top_p);
    double cum = 0;
    for (size_t i : order) m = std::min(m, std::fabs((cum += prob[i]) - thr));
  }
  const std::vector<double> prob = model::token_probabilities(row, p);
  double cum = 0;
  for (double v : prob)
    if (v > 0) m = std::min(m, std::fabs((cum += v) - u));
  return m;
}

// K logit rows [k, vocab] of logit_row, one seed per row.
struct LogitRows {
  int64_t vocab = 0;
  std::vector<float> data;  // [k, vocab], row-major
  size_t rows() const { return data.size() / static_cast<size_t>(vocab); }
  std::span<const float> row(size_t i) const {
    return std::span<const float>(data).subspan(i * static_cast<size_t>(vocab), static_cast<size_t>(vocab));
  }
};
inline LogitRows logit_rows(uint64_t seed, size_t k, int64_t vocab, float scale) {
  LogitRows r{vocab, {}};
  for (size_t i = 0; i < k; ++i) {
    const std::vector<float> row = logit_row(seed * 131 + i, vocab, scale);
    r.data.insert(r.data.end(), row.begin(), row.end());
  }
  return r;
}

// One batch of the device selection check: rows, parameters, and the plan seed whose rollout
// streams (model::rollout_sampler_state(seed, row)) draw for them.
struct SelectionCase {
  LogitRows rows;
  model::SamplingParams p;
  uint64_t seed;
};

// The GPU check's sampled batches (cuda_select_tokens_sampled_matches_cpu); the host test
// model_select_lane_matches_sort_rule_on_the_gpu_cases runs the same algorithm over them.
inline std::vector<SelectionCase> sampled_selection_cases() {
  std::vector<SelectionCase> cases;
  const model::SamplingParams release{0.6f, 0.98f, 151669, 151936};
  for (uint64_t s = 0; s < 8; ++s) cases.push_back({logit_rows(100 + s, 6, 151936, 10.f), release, s});
  const model::SamplingParams configs[] = {{1.f, 0.5f, 0, 0}, {0.6f, 1.f, 0, 0}, {1e-3f, 0.98f, 0, 0}, {1.f, 1e-6f, 0, 0},
                                           {2.f, 0.9f, 1000, 3000}};
  uint64_t seed = 200;
  for (const model::SamplingParams& p : configs)
    for (int r = 0; r < 4; ++r, ++seed) cases.push_back({logit_rows(seed, 16, 4099, r % 2 ? 8.f : 1.f), p, seed});
  // A run of equal logits cut by top-p in id order.
  for (uint64_t s = 0; s < 16; ++s) cases.push_back({LogitRows{8, std::vector<float>(8, 0.25f)}, {1.f, 0.5f, 0, 0}, s});
  return cases;
}

}  // namespace alp::test
