// Token sampling with Hugging Face semantics (ExpertLogitsProcessor, temperature, TopPLogitsWarper).
#include <cmath>
#include <vector>

#include "model/expert.hpp"
#include "model/sampling.hpp"
#include "tests/check.hpp"
#include "core/error.hpp"
#include "tests/check.hpp"

using namespace alp;
using namespace alp::model;

namespace {
std::vector<float> log_probs(std::vector<double> p) {
  std::vector<float> l;
  for (double v : p) l.push_back(static_cast<float>(std::log(v)));
  return l;
}
}  // namespace

TEST(model_top_p_matches_hf_ascending_cumulative_rule) {
  const auto l = log_probs({0.5, 0.3, 0.2});
  // top_p 0.75: ascending cumsum 0.2, 0.5, 1.0; drop where <= 0.25 -> only the 0.2 token goes.
  auto p = token_probabilities(l, {1.0f, 0.75f, 0, 0});
  CHECK_NEAR(p[0], 0.625, 1e-6);
  CHECK_NEAR(p[1], 0.375, 1e-6);
  CHECK_EQ(p[2], 0.0);
  // top_p 0.85: threshold 0.15 < 0.2 -> everything kept.
  p = token_probabilities(l, {1.0f, 0.85f, 0, 0});
  CHECK_NEAR(p[2], 0.2, 1e-6);
  // Tiny top_p keeps only the most likely token (min_tokens_to_keep = 1).
  p = token_probabilities(l, {1.0f, 1e-6f, 0, 0});
  CHECK_EQ(p[0], 1.0);
  // Temperature 0.5 squares the ratios: 0.25 : 0.09 : 0.04.
  p = token_probabilities(l, {0.5f, 1.0f, 0, 0});
  CHECK_NEAR(p[1], 0.09 / 0.38, 1e-6);
}

TEST(model_sampling_masks_traj_ids_and_greedy) {
  std::vector<float> l = {0.f, 5.f, 4.f, 1.f};
  // ids [1, 3) masked: the best remaining is id 3.
  TokenSampler s(1);
  CHECK_EQ(s.next(l, {0.f, 0.98f, 1, 3}), 3);
  auto p = token_probabilities(l, {1.0f, 1.0f, 1, 3});
  CHECK_EQ(p[1], 0.0);
  CHECK_EQ(p[2], 0.0);
  CHECK_NEAR(p[3], std::exp(1.0) / (1 + std::exp(1.0)), 1e-9);
  // Greedy ties resolve to the first id, like torch.argmax.
  std::vector<float> tie = {1.f, 3.f, 3.f};
  CHECK_EQ(s.next(tie, {0.f, 1.f, 0, 0}), 1);
  CHECK_THROWS_CODE(token_probabilities(l, {1.f, 1.f, 0, 4}), ErrorCode::InvalidInput, "masked");
  CHECK_THROWS_CODE(token_probabilities(l, {1.f, 0.f, 0, 0}), ErrorCode::InvalidInput, "top_p");
}

TEST(model_sampler_is_seeded_and_follows_probabilities) {
  const auto l = log_probs({0.5, 0.3, 0.2});
  TokenSampler a(42), b(42), c(43);
  std::vector<int64_t> sa, sb, sc;
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 20000; ++i) {
    sa.push_back(a.next(l, {1.f, 1.f, 0, 0}));
    sb.push_back(b.next(l, {1.f, 1.f, 0, 0}));
    sc.push_back(c.next(l, {1.f, 1.f, 0, 0}));
    ++counts[sa.back()];
  }
  CHECK(sa == sb);
  CHECK(sa != sc);
  // 20000 draws: standard error of a frequency <= 0.0036, allow ~4 sigma.
  CHECK_NEAR(counts[0] / 20000.0, 0.5, 0.015);
  CHECK_NEAR(counts[1] / 20000.0, 0.3, 0.015);
  CHECK_NEAR(counts[2] / 20000.0, 0.2, 0.015);
}

TEST(model_flow_time_grid_and_fourier_freqs_match_torch) {
  // torch.linspace(0, 1, 11) and torch.logspace(0, 2, 10) in fp32, printed with %.9g.
  const std::vector<float> want_t = {0.f, 0.100000001f, 0.200000003f, 0.300000012f, 0.400000006f, 0.5f,
                                     0.600000024f, 0.699999988f, 0.800000012f, 0.899999976f, 1.f};
  CHECK(flow_time_steps(10) == want_t);
  const std::vector<float> want_f = {1.f, 1.66810060f, 2.78255939f, 4.64158869f, 7.74263668f,
                                     12.9154968f, 21.5443478f, 35.9381371f, 59.9484253f, 100.f};
  CHECK(fourier_freqs(ActionInProjConfig{32, 2, 20, 100.0}) == want_f);
}
