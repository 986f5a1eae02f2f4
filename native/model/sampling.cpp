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
  std::vector<float> s(logits.size());
  for (size_t i = 0; i < s.size(); ++i) s[i] = rule::scaled_logit(logits[i], static_cast<int64_t>(i), p);
  return s;
}

[[noreturn]] void fail_no_token() { fail(ErrorCode::InvalidInput, "sampling: every token is masked or non-finite"); }

}  // namespace

void check_sampling_params(const SamplingParams& p) {
  if (!(p.temperature >= 0) || !(p.top_p > 0 && p.top_p <= 1))
    fail(ErrorCode::InvalidInput, "sampling: temperature must be >= 0 and top_p in (0, 1], got " +
                                      std::to_string(p.temperature) + ", " + std::to_string(p.top_p));
}

std::vector<double> token_probabilities(std::span<const float> logits, const SamplingParams& p) {
  if (logits.empty()) fail(ErrorCode::InvalidInput, "sampling: empty logits");
  check_sampling_params(p);
  std::vector<float> s = masked_scaled(logits, p);
  const float mx = *std::max_element(s.begin(), s.end());
  if (!rule::is_finite(mx)) fail_no_token();
  const size_t n = s.size();
  std::vector<double> prob(n, 0.0);
  if (p.temperature == 0) {
    prob[static_cast<size_t>(std::max_element(s.begin(), s.end()) - s.begin())] = 1.0;
    return prob;
  }
  double z = 0;
  for (size_t i = 0; i < n; ++i) z += prob[i] = rule::exp_weight(s[i], mx);
  for (double& v : prob) v /= z;
  if (p.top_p < 1) {
    // Ascending order; ties broken by id so the choice does not depend on the sort implementation.
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return rule::before(s[a], static_cast<int64_t>(a), s[b], static_cast<int64_t>(b));
    });
    double cum = 0;
    const double threshold = rule::top_p_threshold(p.top_p);
    for (size_t r = 0; r + 1 < n; ++r) {  // the last (most likely) token is always kept
      cum += prob[order[r]];
      if (rule::top_p_removes(cum, threshold)) prob[order[r]] = 0.0;
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
    if (rule::draw_hits(u, cum)) return last_kept;
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
      if (!rule::is_finite(row[j])) {
        LaneSelection bad;
        bad.status = kSelectNonFiniteLogit;
        bad.bad_index = static_cast<int64_t>(j);
        bad.bad_value = row[j];
        raise_selection_failure(bad);
      }
    ids[i] = static_cast<int32_t>(samplers[i]->next(row, p));
  }
  return ids;
}

std::vector<double> draw_uniforms(std::span<TokenSampler* const> samplers, const SamplingParams& p) {
  std::vector<double> u(samplers.size(), 0.0);
  // Checked only where select_tokens checks: at a row that has a sampler.
  if (std::none_of(samplers.begin(), samplers.end(), [](TokenSampler* s) { return s != nullptr; })) return u;
  check_sampling_params(p);
  if (p.temperature == 0) return u;
  for (size_t i = 0; i < samplers.size(); ++i)
    if (samplers[i]) u[i] = samplers[i]->uniform();
  return u;
}

void raise_selection_failure(const LaneSelection& s) {
  switch (s.status) {
    case kSelectOk:
      return;
    case kSelectNonFiniteLogit:
      fail(ErrorCode::InvalidCheckpoint, "non-finite values (" + std::to_string(s.bad_value) + " at index " + std::to_string(s.bad_index) +
                                             ") first appeared in the logits of a reasoning token: the checkpoint's weights produce NaN/Inf for valid input");
    case kSelectNoFiniteToken:
      fail_no_token();
  }
  fail(ErrorCode::Internal, "token selection: unknown lane status " + std::to_string(s.status));
}

namespace {

// kSelectThreads "threads" run one after another, with the device kernel's reduction tree.
class HostBlock {
 public:
  int threads() const { return rule::kSelectThreads; }
  template <class T, class Partial, class Op>
  T reduce(Partial partial, Op op) {
    std::vector<T> a(static_cast<size_t>(threads()));
    for (int t = 0; t < threads(); ++t) a[static_cast<size_t>(t)] = partial(t);
    for (int off = threads() / 2; off > 0; off >>= 1)
      for (int t = 0; t < off; ++t) a[static_cast<size_t>(t)] = op(a[static_cast<size_t>(t)], a[static_cast<size_t>(t + off)]);
    return a[0];
  }
  template <class Partial>
  void sum_n(Partial partial, double* out) {
    constexpr int M = rule::kSearchSplits;
    const size_t T = static_cast<size_t>(threads());
    std::vector<double> a(M * T);
    for (size_t t = 0; t < T; ++t) {
      double acc[M];
      partial(static_cast<int>(t), acc);
      for (size_t j = 0; j < M; ++j) a[j * T + t] = acc[j];
    }
    for (size_t off = T / 2; off > 0; off >>= 1)
      for (size_t j = 0; j < M; ++j)
        for (size_t t = 0; t < off; ++t) a[j * T + t] = a[j * T + t] + a[j * T + t + off];
    for (size_t j = 0; j < M; ++j) out[j] = a[j * T];
  }
  template <class Partial, class Finish>
  int64_t scan_min(Partial partial, Finish finish) {
    std::vector<double> prefix(static_cast<size_t>(threads()));
    double run = 0;
    for (int t = 0; t < threads(); ++t) {
      prefix[static_cast<size_t>(t)] = run;
      run += partial(t);
    }
    int64_t m = rule::kNone;
    for (int t = 0; t < threads(); ++t) m = std::min(m, static_cast<int64_t>(finish(t, prefix[static_cast<size_t>(t)])));
    return m;
  }
};

}  // namespace

LaneSelection select_lane_host(std::span<const float> row, double u, const SamplingParams& p) {
  if (row.empty()) fail(ErrorCode::InvalidInput, "sampling: empty logits");
  check_sampling_params(p);
  std::vector<double> prob(row.size());
  HostBlock b;
  return select_lane(b, row.data(), static_cast<int64_t>(row.size()), u, p, prob.data());
}

}  // namespace alp::model
