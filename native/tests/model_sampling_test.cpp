// Token sampling with Hugging Face semantics (ExpertLogitsProcessor, temperature, TopPLogitsWarper).
#include <cmath>
#include <vector>

#include "model/expert.hpp"
#include "model/sampling.hpp"
#include "tests/check.hpp"
#include "core/error.hpp"
#include "tests/sampling_cases.hpp"

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

// ---- the device selection rule (model::select_lane, run here through select_lane_host) ----------
namespace {

int64_t lane_id(std::span<const float> row, double u, const SamplingParams& p) {
  const LaneSelection s = select_lane_host(row, u, p);
  CHECK_EQ(s.status, static_cast<int32_t>(kSelectOk));
  return s.id;
}

// What select_tokens throws for `row`, or "" (to compare the device path's error with it).
std::string cpu_error(std::span<const float> row, const SamplingParams& p) {
  TokenSampler s(1);
  TokenSampler* rows[1] = {&s};
  try {
    select_tokens(row, rows, p);
  } catch (const Error& e) {
    return std::string(error_code_name(e.code())) + ": " + e.what();
  }
  return "";
}
std::string lane_error(std::span<const float> row, double u, const SamplingParams& p) {
  try {
    raise_selection_failure(select_lane_host(row, u, p));
  } catch (const Error& e) {
    return std::string(error_code_name(e.code())) + ": " + e.what();
  }
  return "";
}

}  // namespace

// The block algorithm (bisection top-p, tree sums, chunked draw) against the sort rule on random
// rows: the same id wherever the CPU's decisions are not within rounding of a threshold (the rule
// the GPU check applies); on these seeds that is every row.
TEST(model_select_lane_matches_sort_rule_on_random_rows) {
  const float temps[] = {0.f, 0.6f, 1.f, 1e-3f};
  const float top_ps[] = {0.98f, 0.5f, 1.f, 1e-6f};
  const int64_t vocabs[] = {1, 5, 97, 1000, 4099};
  int compared = 0, excused = 0, mismatched = 0;
  uint64_t seed = 1;
  for (int64_t vocab : vocabs)
    for (float t : temps)
      for (float tp : top_ps)
        for (int r = 0; r < 6; ++r, ++seed) {
          const std::vector<float> row = test::logit_row(seed, vocab, r % 2 ? 8.f : 2.f);
          SamplingParams p{t, tp, 0, 0};
          if (r == 5 && vocab > 10) p.masked_begin = vocab / 3, p.masked_end = vocab / 3 + vocab / 4;
          const test::CpuChoice want = test::cpu_choice(row, seed * 7919, p);
          const int64_t got = lane_id(row, want.u, p);
          if (got == want.id) ++compared;
          else if (test::decision_margin(row, want.u, p) <= 1e-12) ++excused;
          else ++mismatched;
        }
  // Real vocabulary size, the release mask range, the release sampling parameters.
  for (int r = 0; r < 4; ++r, ++seed) {
    const std::vector<float> row = test::logit_row(seed, 151936, 10.f);
    const SamplingParams p{r == 0 ? 0.f : 0.6f, r == 3 ? 1.f : 0.98f, 151669, 151669 + 4000 > 151936 ? 151936 : 151669 + 4000};
    const test::CpuChoice want = test::cpu_choice(row, seed, p);
    const int64_t got = lane_id(row, want.u, p);
    if (got == want.id) ++compared;
    else if (test::decision_margin(row, want.u, p) <= 1e-12) ++excused;
    else ++mismatched;
  }
  std::cout << "select_lane vs sort rule: " << compared << " identical, " << excused << " excused (margin <= 1e-12), "
            << mismatched << " mismatched\n";
  CHECK_EQ(mismatched, 0);
  CHECK_EQ(excused, 0);  // none expected on these seeds
  CHECK_EQ(compared, 5 * 4 * 4 * 6 + 4);
}

// The block algorithm against the sort rule on exactly the rows and draws the GPU check gives the
// device (cuda_select_tokens_sampled_matches_cpu): a device mismatch there is then the kernel's, not
// the algorithm's.
TEST(model_select_lane_matches_sort_rule_on_the_gpu_cases) {
  size_t rows = 0, same = 0;
  for (const test::SelectionCase& c : test::sampled_selection_cases())
    for (size_t i = 0; i < c.rows.rows(); ++i, ++rows) {
      const test::CpuChoice want = test::cpu_choice(c.rows.row(i), rollout_sampler_state(c.seed, i), c.p);
      if (lane_id(c.rows.row(i), want.u, c.p) == want.id) ++same;
    }
  CHECK_EQ(rows, size_t{8 * 6 + 5 * 4 * 16 + 16});
  CHECK_EQ(same, rows);
}

// Greedy ties go to the first id; a top-p cut inside a run of equal logits goes in id order.
TEST(model_select_lane_ties) {
  const std::vector<float> tie = {1.f, 3.f, 3.f, 2.f};
  CHECK_EQ(lane_id(tie, 0.0, {0.f, 1.f, 0, 0}), 1);
  // Eight equal logits, top_p 0.5: cumulative 1/8 .. 4/8 <= 0.5, so ids 0-3 go (exact in binary).
  const std::vector<float> flat(8, 0.25f);
  const SamplingParams half{1.f, 0.5f, 0, 0};
  const std::vector<double> prob = token_probabilities(flat, half);
  for (size_t i = 0; i < 8; ++i) CHECK_EQ(prob[i], i < 4 ? 0.0 : 0.25);
  CHECK_EQ(lane_id(flat, 0.0, half), 4);
  CHECK_EQ(lane_id(flat, 0.3, half), 5);
  CHECK_EQ(lane_id(flat, 0.74, half), 6);
  CHECK_EQ(lane_id(flat, 0.99, half), 7);
  for (uint64_t st = 0; st < 64; ++st) {
    const test::CpuChoice c = test::cpu_choice(flat, st, half);
    CHECK_EQ(lane_id(flat, c.u, half), c.id);
  }
  // A run that straddles the cut: [0, 0, 0, 1, 1]; the lower run is removed whole or in part.
  const std::vector<float> runs = {1.f, 0.f, 1.f, 0.f, 0.f};
  for (float tp : {0.9f, 0.8f, 0.7f, 0.6f, 0.3f})
    for (uint64_t st = 0; st < 32; ++st) {
      const SamplingParams p{1.f, tp, 0, 0};
      const test::CpuChoice c = test::cpu_choice(runs, st, p);
      CHECK_EQ(lane_id(runs, c.u, p), c.id);
    }
  // top_p so small that 1 - top_p == 1.0: every cumulative is <= 1, so all go but the last token in
  // order: the most likely one with the *largest* id among equals.
  const std::vector<float> top2 = {3.f, 3.f, 1.f};
  const SamplingParams tiny_p{1.f, 1e-30f, 0, 0};
  CHECK_EQ(test::cpu_choice(top2, 3, tiny_p).id, 1);
  CHECK_EQ(lane_id(top2, 0.0, tiny_p), 1);
  CHECK_EQ(lane_id(top2, 0.999, tiny_p), 1);
}

// top_p = 1 keeps every token: the draw walks the plain softmax.
TEST(model_select_lane_top_p_one) {
  const std::vector<float> l = log_probs({0.5, 0.3, 0.2});
  const SamplingParams p{1.f, 1.f, 0, 0};
  CHECK_EQ(lane_id(l, 0.0, p), 0);
  CHECK_EQ(lane_id(l, 0.49, p), 0);
  CHECK_EQ(lane_id(l, 0.51, p), 1);
  CHECK_EQ(lane_id(l, 0.79, p), 1);
  CHECK_EQ(lane_id(l, 0.81, p), 2);
  CHECK_EQ(lane_id(l, 0.9999999, p), 2);
  // 4099 ids split over 1024 draw chunks: u sweeps every chunk boundary region.
  const std::vector<float> row = test::logit_row(99, 4099, 1.f);
  for (int k = 0; k < 200; ++k) {
    const test::CpuChoice c = test::cpu_choice(row, static_cast<uint64_t>(k) * 31 + 5, p);
    CHECK_EQ(lane_id(row, c.u, p), c.id);
  }
}

// Tiny temperature: the scaled logits spread so far that only the arg-max has weight; when they
// overflow to +inf there is no finite maximum (INVALID_INPUT on both paths).
TEST(model_select_lane_tiny_temperature) {
  const std::vector<float> row = test::logit_row(5, 1000, 4.f);
  const int64_t argmax = std::max_element(row.begin(), row.end()) - row.begin();
  const SamplingParams cold{1e-6f, 0.98f, 0, 0};
  for (double u : {0.0, 0.5, 0.999999}) CHECK_EQ(lane_id(row, u, cold), argmax);
  CHECK_EQ(test::cpu_choice(row, 11, cold).id, argmax);
  const std::vector<float> big = {1e30f, 0.f, -1e30f};
  const SamplingParams frozen{1e-10f, 0.98f, 0, 0};
  CHECK_EQ(select_lane_host(big, 0.5, frozen).status, static_cast<int32_t>(kSelectNoFiniteToken));
  CHECK(!cpu_error(big, frozen).empty());
  CHECK_EQ(lane_error(big, 0.5, frozen), cpu_error(big, frozen));
}

// Everything masked but one id: that id, greedy or sampled, at any u; all masked: INVALID_INPUT.
TEST(model_select_lane_all_but_one_masked) {
  const std::vector<float> row = test::logit_row(8, 10, 4.f);
  for (float t : {0.f, 0.6f})
    for (float tp : {0.98f, 1.f})
      for (double u : {0.0, 0.5, 0.9999999999}) {
        CHECK_EQ(lane_id(row, u, {t, tp, 0, 9}), 9);
        CHECK_EQ(lane_id(row, u, {t, tp, 1, 10}), 0);
      }
  const SamplingParams all{0.6f, 0.98f, 0, 10};
  CHECK_EQ(select_lane_host(row, 0.5, all).status, static_cast<int32_t>(kSelectNoFiniteToken));
  CHECK(cpu_error(row, all).find("every token is masked") != std::string::npos);
  CHECK_EQ(lane_error(row, 0.5, all), cpu_error(row, all));
}

// A NaN/Inf logit anywhere (masked ids included) is the checkpoint's fault: the first one by index
// is reported, with the message select_tokens gives.
TEST(model_select_lane_non_finite_row) {
  std::vector<float> row = test::logit_row(3, 3000, 4.f);
  row[2500] = std::numeric_limits<float>::infinity();
  row[1777] = std::nanf("");
  for (float t : {0.f, 0.6f}) {
    const SamplingParams p{t, 0.98f, 1700, 1800};  // the NaN is in the masked range
    const LaneSelection s = select_lane_host(row, 0.5, p);
    CHECK_EQ(s.status, static_cast<int32_t>(kSelectNonFiniteLogit));
    CHECK_EQ(s.bad_index, int64_t{1777});
    CHECK(lane_error(row, 0.5, p).find("non-finite values (nan at index 1777)") != std::string::npos);
    CHECK_EQ(lane_error(row, 0.5, p), cpu_error(row, p));
  }
}

// The device path's draws are select_tokens' draws: one uniform per sampled row, in row order; none
// for greedy rows or rows without a sampler.
TEST(model_draw_uniforms_are_the_select_tokens_draws) {
  TokenSampler a(7), b(9), a2(7), b2(9);
  TokenSampler* rows[3] = {&a, nullptr, &b};
  const std::vector<double> u = draw_uniforms(rows, {0.6f, 0.98f, 0, 0});
  CHECK_EQ(u.size(), size_t{3});
  CHECK_EQ(u[0], a2.uniform());
  CHECK_EQ(u[1], 0.0);
  CHECK_EQ(u[2], b2.uniform());
  const std::vector<double> g = draw_uniforms(rows, {0.f, 0.98f, 0, 0});
  CHECK(g == std::vector<double>(3, 0.0));
  CHECK_EQ(a.uniform(), a2.uniform());  // greedy drew nothing
  CHECK_THROWS_CODE(draw_uniforms(rows, {0.6f, 0.f, 0, 0}), ErrorCode::InvalidInput, "top_p");
}
