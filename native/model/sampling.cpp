#include "model/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "core/error.hpp"

namespace alp::model {
namespace {

std::vector<float> masked_scaled(std::span<const float> logits, const SamplingParams& p) {
  std::vector<float> s(logits.begin(), logits.end());
  const int64_t n = static_cast<int64_t>(s.size());
  for (int64_t i = std::max<int64_t>(0, p.masked_begin); i < std::min(n, p.masked_end); ++i)
    s[static_cast<size_t>(i)] = -std::numeric_limits<float>::infinity();
  if (p.temperature > 0)
    for (float& v : s) v = v / p.temperature;
  return s;
}

}  // namespace

std::vector<double> token_probabilities(std::span<const float> logits, const SamplingParams& p) {
  if (logits.empty()) fail(ErrorCode::InvalidInput, "sampling: empty logits");
  if (!(p.temperature >= 0) || !(p.top_p > 0 && p.top_p <= 1))
    fail(ErrorCode::InvalidInput, "sampling: temperature must be >= 0 and top_p in (0, 1], got " +
                                      std::to_string(p.temperature) + ", " + std::to_string(p.top_p));
  std::vector<float> s = masked_scaled(logits, p);
  const float mx = *std::max_element(s.begin(), s.end());
  if (!std::isfinite(mx)) fail(ErrorCode::InvalidInput, "sampling: every token is masked or non-finite");
  const size_t n = s.size();
  std::vector<double> prob(n, 0.0);
  if (p.temperature == 0) {
    prob[static_cast<size_t>(std::max_element(s.begin(), s.end()) - s.begin())] = 1.0;
    return prob;
  }
  double z = 0;
  for (size_t i = 0; i < n; ++i) z += prob[i] = std::exp(static_cast<double>(s[i]) - mx);
  for (double& v : prob) v /= z;
  if (p.top_p < 1) {
    // Ascending order; ties broken by id so the choice does not depend on the sort implementation.
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s[a] < s[b]; });
    double cum = 0;
    const double threshold = 1.0 - static_cast<double>(p.top_p);
    for (size_t r = 0; r + 1 < n; ++r) {  // the last (most likely) token is always kept
      cum += prob[order[r]];
      if (cum <= threshold) prob[order[r]] = 0.0;
      else break;
    }
    double kept = 0;
    for (double v : prob) kept += v;
    for (double& v : prob) v /= kept;
  }
  return prob;
}

namespace {
uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

uint64_t rollout_sampler_state(uint64_t seed, uint64_t sample) {
  return splitmix64_mix((seed ^ (sample << 32)) + 0x9E3779B97F4A7C15ull);
}

double TokenSampler::uniform() {
  const uint64_t z = splitmix64_mix(state_ += 0x9E3779B97F4A7C15ull);
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

int64_t TokenSampler::next(std::span<const float> logits, const SamplingParams& p) {
  const std::vector<double> prob = token_probabilities(logits, p);
  if (p.temperature == 0) return std::max_element(prob.begin(), prob.end()) - prob.begin();
  const double u = uniform();
  double cum = 0;
  int64_t last_kept = -1;
  for (size_t i = 0; i < prob.size(); ++i) {
    if (prob[i] <= 0) continue;
    cum += prob[i];
    last_kept = static_cast<int64_t>(i);
    if (u < cum) return last_kept;
  }
  return last_kept;  // u within rounding of 1
}

std::vector<int32_t> select_tokens(std::span<const float> logits, std::span<TokenSampler* const> samplers,
                                   const SamplingParams& p) {
  const size_t rows = samplers.size();
  if (rows == 0 || logits.size() % rows != 0)
    fail(ErrorCode::Internal, "select_tokens: " + std::to_string(logits.size()) + " logits for " + std::to_string(rows) + " rows");
  const size_t vocab = logits.size() / rows;
  std::vector<int32_t> ids(rows, -1);
  for (size_t i = 0; i < rows; ++i) {
    if (!samplers[i]) continue;
    const std::span<const float> row = logits.subspan(i * vocab, vocab);
    // Logits come from the weights alone (the prompt is validated), so NaN/Inf here blames the checkpoint.
    for (size_t j = 0; j < vocab; ++j)
      if (!std::isfinite(row[j]))
        fail(ErrorCode::InvalidCheckpoint, "non-finite values (" + std::to_string(row[j]) + " at index " + std::to_string(j) +
                                               ") first appeared in the logits of a reasoning token: the checkpoint's weights produce NaN/Inf for valid input");
    ids[i] = static_cast<int32_t>(samplers[i]->next(row, p));
  }
  return ids;
}

}  // namespace alp::model
