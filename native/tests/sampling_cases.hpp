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

}  // namespace alp::test
