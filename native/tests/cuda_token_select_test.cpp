// Token selection on the device (backends/cuda/token_select.*) against the CPU executor's rule
// (model::select_tokens) on the same logits: greedy identical, sampled identical wherever the CPU's
// decisions are not within rounding of a threshold (the rule argued in model/sampling_rule.hpp; the
// count excused is printed and expected to be 0), the same draws, the same errors; and the executor
// with the device selector against the CPU executor, greedy, on the tiny network. Needs a GPU: every
// case skips with "no CUDA device" without one. scripts/gpu-check.sh runs them (filter "cuda").
#if ALPAMAYO_HAVE_CUDA
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_ops.hpp"
#include "backends/cuda/token_select.hpp"
#include "core/error.hpp"
#include "model/config.hpp"
#include "model/ops_executor.hpp"
#include "model/rope_tables.hpp"
#include "model/sampling.hpp"
#include "model/token_layout.hpp"
#include "tests/check.hpp"
#include "tests/cuda_test_util.hpp"
#include "tests/model_test_weights.hpp"
#include "tests/sampling_cases.hpp"

using namespace alp;
using model::LaneSelection;
using model::SamplingParams;
using model::TokenSampler;

namespace {

using WeightMap = std::map<std::string, Tensor, std::less<>>;

cuda::CudaOptions exact_options() {
  cuda::CudaOptions o;
  o.use_cublaslt = false;
  o.use_cudnn = false;
  o.arena_bytes = size_t(16) << 20;
  return o;
}

using Rows = test::LogitRows;
Rows random_rows(uint64_t seed, size_t k, int64_t vocab, float scale) { return test::logit_rows(seed, k, vocab, scale); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::string(error_code_name(e.code())) + ": " + e.what();
  }
  return "";
}

struct Tally {
  int identical = 0, excused = 0, mismatched = 0;
};

// K rows on the device against select_tokens (and select_lane_host) on the host, with K sampler pairs
// seeded alike; afterwards both sampler sets must be at the same point of their streams.
void compare(cuda::CudaOps& ops, cuda::DeviceTokenSelector& sel, const Rows& rows, const SamplingParams& p, uint64_t seed,
             Tally& t) {
  const size_t k = rows.rows();
  std::vector<TokenSampler> dev, host;
  for (size_t i = 0; i < k; ++i) {
    dev.emplace_back(model::rollout_sampler_state(seed, i));
    host.emplace_back(model::rollout_sampler_state(seed, i));
  }
  std::vector<TokenSampler*> dp, hp;
  for (size_t i = 0; i < k; ++i) dp.push_back(&dev[i]), hp.push_back(&host[i]);
  const model::Value v = ops.input("logits", {int64_t(k), rows.vocab}, rows.data);
  const std::vector<int32_t> got = sel.select(v, dp, p);
  CHECK_EQ(got.size(), k);
  for (size_t i = 0; i < k && i < got.size(); ++i) {
    const test::CpuChoice want = test::cpu_choice(rows.row(i), model::rollout_sampler_state(seed, i), p);
    const LaneSelection emu = model::select_lane_host(rows.row(i), want.u, p);
    if (got[i] == want.id && got[i] == emu.id) {
      ++t.identical;
    } else if (p.temperature > 0 && test::decision_margin(rows.row(i), want.u, p) <= 1e-12) {
      ++t.excused;
    } else {
      ++t.mismatched;
      std::cout << "  mismatch: T=" << p.temperature << " top_p=" << p.top_p << " row " << i << ": device " << got[i]
                << ", cpu " << want.id << ", host emulation " << emu.id << "\n";
    }
  }
  // The device path drew exactly what select_tokens draws.
  (void)model::select_tokens(rows.data, hp, p);
  for (size_t i = 0; i < k; ++i) CHECK_EQ(dev[i].uniform(), host[i].uniform());
}

}  // namespace

TEST(cuda_select_tokens_greedy_matches_cpu) {
  REQUIRE_CUDA_DEVICE();
  WeightMap none;
  cuda::CudaOps ops(test::weight_source(none), exact_options());
  cuda::DeviceTokenSelector sel(ops);
  Tally t;
  const SamplingParams greedy{0.f, 0.98f, 151669, 151936};
  for (uint64_t s = 0; s < 4; ++s) compare(ops, sel, random_rows(s, 6, 151936, 10.f), greedy, s, t);
  compare(ops, sel, random_rows(9, 64, 4099, 2.f), SamplingParams{0.f, 1.f, 0, 0}, 9, t);
  // Ties: the first id wins.
  const Rows tie{5, {1.f, 3.f, 3.f, 2.f, 3.f}};
  compare(ops, sel, tie, SamplingParams{0.f, 1.f, 0, 0}, 1, t);
  std::cout << "device greedy vs cpu: " << t.identical << " identical, " << t.mismatched << " mismatched\n";
  CHECK_EQ(t.mismatched, 0);
  CHECK_EQ(t.excused, 0);
  CHECK_EQ(t.identical, 4 * 6 + 64 + 1);
}

TEST(cuda_select_tokens_sampled_matches_cpu) {
  REQUIRE_CUDA_DEVICE();
  WeightMap none;
  cuda::CudaOps ops(test::weight_source(none), exact_options());
  cuda::DeviceTokenSelector sel(ops);
  Tally t;
  const std::vector<test::SelectionCase> cases = test::sampled_selection_cases();
  size_t rows = 0;
  for (const test::SelectionCase& c : cases) {
    compare(ops, sel, c.rows, c.p, c.seed, t);
    rows += c.rows.rows();
  }
  std::cout << "device sampled vs cpu: " << t.identical << " identical, " << t.excused << " excused (margin <= 1e-12), "
            << t.mismatched << " mismatched\n";
  CHECK_EQ(t.mismatched, 0);
  CHECK_EQ(static_cast<size_t>(t.identical + t.excused), rows);
  CHECK_EQ(rows, size_t{8 * 6 + 5 * 4 * 16 + 16});
  // For the GPU check's log (printed, never asserted): one decode step's selection at the release
  // settings, 6 lanes over the real vocabulary, host draws and the id copy included.
  const test::SelectionCase& rel = cases[0];
  const model::Value v = ops.input("logits", {6, rel.rows.vocab}, rel.rows.data);
  std::vector<TokenSampler> s(6, TokenSampler(1));
  std::vector<TokenSampler*> sp;
  for (auto& x : s) sp.push_back(&x);
  (void)sel.select(v, sp, rel.p);  // warm-up
  cuda::Event e0(true), e1(true);
  constexpr int kReps = 20;
  const auto w0 = std::chrono::steady_clock::now();
  e0.record(ops.stream());
  for (int i = 0; i < kReps; ++i) (void)sel.select(v, sp, rel.p);
  e1.record(ops.stream());
  e1.synchronize();
  const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0).count() / kReps;
  std::cout << "device selection, 6 lanes x " << rel.rows.vocab << ", T=0.6 top_p=0.98: " << e1.elapsed_ms_since(e0) / kReps
            << " ms per step on the stream, " << wall << " ms wall (not asserted)\n";
}

// The prompt's logits are one [vocab] row that every lane draws from (start_lanes); a lane without
// a sampler gets -1 and draws nothing.
TEST(cuda_select_tokens_shared_prompt_row) {
  REQUIRE_CUDA_DEVICE();
  WeightMap none;
  cuda::CudaOps ops(test::weight_source(none), exact_options());
  cuda::DeviceTokenSelector sel(ops);
  const std::vector<float> row = test::logit_row(77, 151936, 10.f);
  const SamplingParams p{0.6f, 0.98f, 151669, 151936};
  TokenSampler a(1), b(2), c(3), a2(1), b2(2), c2(3);
  TokenSampler* lanes[4] = {&a, nullptr, &b, &c};
  const std::vector<int32_t> got = sel.select(ops.input("logits", {151936}, row), lanes, p);
  CHECK_EQ(got.size(), size_t{4});
  CHECK_EQ(got[1], -1);
  TokenSampler* one[3] = {&a2, &b2, &c2};
  const size_t lane_of[3] = {0, 2, 3};
  for (size_t i = 0; i < 3; ++i) {
    TokenSampler* s[1] = {one[i]};
    CHECK_EQ(got[lane_of[i]], model::select_tokens(row, s, p)[0]);
  }
  CHECK_EQ(a.uniform(), a2.uniform());
  CHECK_EQ(c.uniform(), c2.uniform());
}

// NaN/Inf logits: INVALID_CHECKPOINT naming the first bad index, as select_tokens says it; no token
// left: INVALID_INPUT; bad parameters: INVALID_INPUT before any launch.
TEST(cuda_select_tokens_errors_match_cpu) {
  REQUIRE_CUDA_DEVICE();
  WeightMap none;
  cuda::CudaOps ops(test::weight_source(none), exact_options());
  cuda::DeviceTokenSelector sel(ops);
  Rows rows = random_rows(5, 3, 4099, 4.f);
  rows.data[size_t(2 * 4099 + 17)] = std::nanf("");
  rows.data[size_t(2 * 4099 + 4000)] = -std::numeric_limits<float>::infinity();
  for (float temp : {0.f, 0.6f}) {
    const SamplingParams p{temp, 0.98f, 0, 20};
    TokenSampler a(1), b(2), c(3);
    TokenSampler* s[3] = {&a, &b, &c};
    const std::string want = error_of([&] { model::select_tokens(rows.data, s, p); });
    CHECK(want.find("INVALID_CHECKPOINT") != std::string::npos && want.find("at index 17") != std::string::npos);
    CHECK_EQ(error_of([&] { sel.select(ops.input("logits", {3, 4099}, rows.data), s, p); }), want);
  }
  const std::vector<float> row = test::logit_row(6, 50, 4.f);
  TokenSampler a(1);
  TokenSampler* s[1] = {&a};
  const SamplingParams all{0.6f, 0.98f, 0, 50};
  const std::string want = error_of([&] { model::select_tokens(row, s, all); });
  CHECK(want.find("every token is masked") != std::string::npos);
  CHECK_EQ(error_of([&] { sel.select(ops.input("logits", {1, 50}, row), s, all); }), want);
  CHECK(error_of([&] { sel.select(ops.input("logits", {1, 50}, row), s, SamplingParams{0.6f, 1.5f, 0, 0}); }).find("top_p") !=
        std::string::npos);
}

// The CUDA executor as the backend factory builds it (device selection through OpsHooks::select,
// the prompt's logits kept on the device) against the CPU executor: the same greedy tokens on the
// tiny network, over two lanes and six steps.
TEST(cuda_executor_selects_tokens_on_the_device_like_cpu) {
  REQUIRE_CUDA_DEVICE();
  const model::ModelConfig cfg = model::parse_model_config(model::preset_config("tiny"));
  const WeightMap weights = test::formula_weights(cfg);
  const int32_t img = static_cast<int32_t>(model::token_layout_id("<|image_pad|>"));
  std::vector<int32_t> ids = {257, 10, 20, static_cast<int32_t>(model::token_layout_id("<|vision_start|>"))};
  for (int i = 0; i < 8; ++i) ids.push_back(img);
  for (int64_t t : {model::token_layout_id("<|vision_end|>"), int64_t{30}, int64_t{40}, int64_t{50}}) ids.push_back(static_cast<int32_t>(t));
  std::vector<float> px(32 * 1536);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<float>(std::sin(0.013 * static_cast<double>(i)));
  const std::vector<model::ImageGrid> grids{{1, 4, 8}};
  const std::vector<int64_t> ids64(ids.begin(), ids.end());
  const model::RopeIndex ri = model::rope_index(cfg, ids64, grids);
  const int64_t n = static_cast<int64_t>(ids.size());
  const SamplingParams greedy{0.f, 0.98f, cfg.traj_token_start_idx, cfg.traj_token_start_idx + cfg.traj_vocab_size};

  auto run = [&](model::Executor& ex) {
    std::vector<std::vector<int32_t>> toks(2);
    ex.reserve(n + 8, 2);
    ex.encode_images({px.data(), grids});
    ex.prefill(ids, ri.pos);
    std::vector<TokenSampler> samplers{TokenSampler(1), TokenSampler(2)};
    std::vector<TokenSampler*> draw{&samplers[0], &samplers[1]};
    std::vector<int32_t> next = ex.start_lanes(draw, greedy);
    for (int i = 0; i < 6; ++i) {
      std::vector<model::LaneStep> steps;
      for (int k = 0; k < 2; ++k) {
        toks[size_t(k)].push_back(next[size_t(k)]);
        steps.push_back({k, next[size_t(k)], n + i, n + i + ri.rope_delta, &samplers[size_t(k)]});
      }
      next = ex.decode(steps, greedy);
    }
    return toks;
  };
  model::OpsHooks cpu_hooks;
  cpu_hooks.weight_bytes = cpu_hooks.cache_bytes = [] { return uint64_t{0}; };
  model::OpsExecutor cpu_ex(test::cpu_ops_over(weights), cfg, {"cpu", "fp32", "cpu"}, cpu_hooks);
  auto gops = std::make_unique<cuda::CudaOps>(test::weight_source(weights), exact_options());
  cuda::CudaOps* raw = gops.get();
  model::OpsHooks hooks;
  hooks.weight_bytes = hooks.cache_bytes = [] { return uint64_t{0}; };
  hooks.keep_vision = [raw](const model::VisionOutput& v) {
    model::VisionOutput kept{raw->persist(v.embeds), {}};
    for (const auto& d : v.deepstack) kept.deepstack.push_back(raw->persist(d));
    return kept;
  };
  hooks.select = [sel = std::make_shared<cuda::DeviceTokenSelector>(*raw)](const model::Value& logits,
                                                                          std::span<TokenSampler* const> s,
                                                                          const SamplingParams& p) { return sel->select(logits, s, p); };
  hooks.keep_logits = [raw](const model::Value& v) { return raw->persist(v); };
  model::OpsExecutor gpu_ex(std::move(gops), cfg, {"cuda", "fp32", "cuda"}, hooks);
  const auto want = run(cpu_ex);
  const auto got = run(gpu_ex);
  CHECK(got == want);
  CHECK_EQ(want[0].size(), size_t{6});
}

#endif  // ALPAMAYO_HAVE_CUDA
