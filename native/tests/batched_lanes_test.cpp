// K samples in one pass (reasoning lanes over one shared prompt KV): every lane of a batched decode or
// denoise must give exactly what that sample gives alone (same seed stream, same noise), greedy and
// sampled, with ragged reasoning lengths. Tiny preset, formula weights, CPU executor.
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/cpu_ops.hpp"
#include "core/error.hpp"
#include "model/backbone.hpp"
#include "model/config.hpp"
#include "model/expert.hpp"
#include "model/rope_tables.hpp"
#include "model/sampling.hpp"
#include "model/token_layout.hpp"
#include "model/ops_executor.hpp"
#include "tests/check.hpp"
#include "tests/model_test_weights.hpp"

using namespace alp;
using namespace alp::model;

namespace {

struct Fixture {
  ModelConfig cfg = parse_model_config(preset_config("tiny"));
  std::map<std::string, Tensor, std::less<>> weights = test::formula_weights(cfg);
  std::unique_ptr<cpu::CpuOps> make_ops() { return test::cpu_ops_over(weights); }
  std::vector<int32_t> ids() const {
    const int32_t img = static_cast<int32_t>(token_layout_id("<|image_pad|>"));
    std::vector<int32_t> v = {257, 10, 20, static_cast<int32_t>(token_layout_id("<|vision_start|>"))};
    for (int i = 0; i < 8; ++i) v.push_back(img);
    for (int64_t t : {token_layout_id("<|vision_end|>"), int64_t{30}, int64_t{40}, int64_t{50}}) v.push_back(static_cast<int32_t>(t));
    return v;
  }
  std::vector<float> patches() const {
    std::vector<float> p(32 * 1536);
    for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>(std::sin(0.013 * static_cast<double>(i)));
    return p;
  }
  std::unique_ptr<model::OpsExecutor> executor() {
    cpu::CpuOps* raw = nullptr;
    auto ops = make_ops();
    raw = ops.get();
    model::OpsHooks hooks;
    hooks.weight_bytes = [raw] { return raw->weight_bytes(); };
    hooks.cache_bytes = [raw] { return raw->cache_bytes(); };
    return std::make_unique<model::OpsExecutor>(std::move(ops), cfg, model::ExecutorInfo{"cpu", "fp32", "cpu"}, hooks);
  }
};

std::vector<float> noise_of(int sample, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = static_cast<float>(std::cos(0.37 * static_cast<double>(i) + sample));
  return x;
}

// Ops level: a lane's logits and actions in a batch equal the same sequence decoded alone, bit for bit.
TEST(lanes_decode_and_denoise_equal_one_sequence_alone) {
  Fixture f;
  const std::vector<int32_t> ids32 = f.ids();
  const std::vector<int64_t> ids(ids32.begin(), ids32.end());
  const std::vector<ImageGrid> grids{{1, 4, 8}};
  const RopeIndex ri = rope_index(f.cfg, ids, grids);
  const int64_t n = static_cast<int64_t>(ids.size());
  const auto px = f.patches();
  // Ragged rollouts: lane 1 stops after 2 tokens, lane 2 after 4, lane 0 after 5.
  const std::vector<std::vector<int64_t>> toks = {{77, 5, 900, 41, 12}, {300, 8}, {77, 6, 6, 1000}};
  const int64_t wp_n = f.cfg.action_space.n_waypoints * f.cfg.action_dims;
  f.cfg.num_inference_steps = 3;

  // One at a time, overwriting the same tail (today's sequential rollout).
  std::vector<std::vector<std::vector<float>>> alone_logits(toks.size());
  std::vector<std::vector<float>> alone_x;
  {
    auto ops = f.make_ops();
    reserve_kv_cache(*ops, f.cfg, 32);
    VisionOutput vis = run_vision(*ops, f.cfg, ops->input("pixel_values", {32, 1536}, px), grids);
    ops->read("logits", prefill(*ops, f.cfg, ids, ri.pos, &vis));
    for (size_t s = 0; s < toks.size(); ++s) {
      for (size_t i = 0; i < toks[s].size(); ++i) {
        const int64_t pos = n + static_cast<int64_t>(i);
        alone_logits[s].push_back(ops->read("logits", decode(*ops, f.cfg, toks[s][i], pos, pos + ri.rope_delta)));
      }
      const int64_t offset = n + static_cast<int64_t>(toks[s].size());
      alone_x.push_back(denoise(*ops, f.cfg, noise_of(static_cast<int>(s), wp_n), offset, ri.rope_delta));
    }
  }
  // All lanes at once.
  auto ops = f.make_ops();
  reserve_kv_cache(*ops, f.cfg, 32);
  VisionOutput vis = run_vision(*ops, f.cfg, ops->input("pixel_values", {32, 1536}, px), grids);
  ops->read("logits", prefill(*ops, f.cfg, ids, ri.pos, &vis));
  ops->kv_share(n, static_cast<int64_t>(toks.size()));
  for (size_t i = 0; i < 5; ++i) {
    std::vector<LaneToken> step;
    for (size_t s = 0; s < toks.size(); ++s)
      if (i < toks[s].size()) {
        const int64_t pos = n + static_cast<int64_t>(i);
        step.push_back({static_cast<int64_t>(s), toks[s][i], pos, pos + ri.rope_delta});
      }
    const std::vector<float> logits = ops->read("logits", decode_lanes(*ops, f.cfg, step));
    const size_t vocab = static_cast<size_t>(f.cfg.vocab_size);
    CHECK_EQ(logits.size(), step.size() * vocab);
    for (size_t r = 0; r < step.size(); ++r) {
      const auto& want = alone_logits[static_cast<size_t>(step[r].lane)][i];
      CHECK(std::equal(want.begin(), want.end(), logits.begin() + static_cast<std::ptrdiff_t>(r * vocab)));
    }
  }
  std::vector<ExpertLane> lanes;
  std::vector<float> noise;
  for (size_t s = 0; s < toks.size(); ++s) {
    lanes.push_back({static_cast<int64_t>(s), n + static_cast<int64_t>(toks[s].size()), ri.rope_delta});
    const auto ns = noise_of(static_cast<int>(s), wp_n);
    noise.insert(noise.end(), ns.begin(), ns.end());
  }
  const std::vector<float> x = denoise(*ops, f.cfg, noise, lanes);
  CHECK_EQ(x.size(), noise.size());
  for (size_t s = 0; s < toks.size(); ++s)
    CHECK(std::equal(alone_x[s].begin(), alone_x[s].end(), x.begin() + static_cast<std::ptrdiff_t>(s * static_cast<size_t>(wp_n))));
  // The lanes really differ (ragged prefixes, different noise), so equality is not trivial.
  CHECK(!std::equal(alone_x[0].begin(), alone_x[0].end(), alone_x[1].begin()));
  // A lane may not write into the shared prompt, nor may an unknown lane be used.
  auto k = ops->reshape(ops->input("k", {1, f.cfg.text.num_kv_heads * f.cfg.text.head_dim},
                                   std::vector<float>(static_cast<size_t>(f.cfg.text.num_kv_heads * f.cfg.text.head_dim))),
                        {1, f.cfg.text.num_kv_heads, f.cfg.text.head_dim});
  CHECK_THROWS_CODE(ops->kv_write(0, n - 1, k, k, 1), ErrorCode::Internal, "lane 1");
  CHECK_THROWS_CODE(ops->kv_read(0, n, 3), ErrorCode::Internal, "lane 3");
}

// Executor level, with token selection inside the executor: K lanes started together draw exactly
// the tokens each lane draws when run alone with the same SplitMix64 stream, greedy and sampled.
void check_executor_lanes(float temperature) {
  Fixture f;
  const std::vector<int32_t> ids = f.ids();
  const std::vector<int64_t> ids64(ids.begin(), ids.end());
  const std::vector<ImageGrid> grids{{1, 4, 8}};
  const RopeIndex ri = rope_index(f.cfg, ids64, grids);
  const int64_t n = static_cast<int64_t>(ids.size());
  const auto px = f.patches();
  const SamplingParams sp{temperature, 0.98f, f.cfg.traj_token_start_idx, f.cfg.traj_token_start_idx + f.cfg.traj_vocab_size};
  constexpr int kLanes = 4, kSteps = 6;
  const uint64_t seed = 1234;
  const int64_t wp_n = f.cfg.action_space.n_waypoints * f.cfg.action_dims;

  auto run = [&](int first, int lanes, std::vector<std::vector<int32_t>>& tokens, std::vector<float>& x) {
    auto exec = f.executor();
    exec->reserve(n + kSteps + 1, lanes);
    exec->encode_images({px.data(), grids});
    exec->prefill(ids, ri.pos);
    std::vector<TokenSampler> samplers;
    std::vector<TokenSampler*> draw;
    for (int k = 0; k < lanes; ++k) samplers.emplace_back(rollout_sampler_state(seed, static_cast<uint64_t>(first + k)));
    for (auto& s : samplers) draw.push_back(&s);
    std::vector<int32_t> next = exec->start_lanes(draw, sp);
    // Lane k stops after kSteps - k tokens (ragged), so later steps carry fewer lanes.
    for (int i = 0; i < kSteps; ++i) {
      std::vector<model::LaneStep> steps;
      for (int k = 0; k < lanes; ++k) {
        if (i >= kSteps - (first + k)) continue;
        tokens[static_cast<size_t>(first + k)].push_back(next[static_cast<size_t>(k)]);
        const int64_t pos = n + i;
        steps.push_back({k, next[static_cast<size_t>(k)], pos, pos + ri.rope_delta, &samplers[static_cast<size_t>(k)]});
      }
      if (steps.empty()) break;
      const std::vector<int32_t> got = exec->decode(steps, sp);
      CHECK_EQ(got.size(), steps.size());
      for (size_t j = 0; j < steps.size(); ++j) next[static_cast<size_t>(steps[j].lane)] = got[j];
    }
    std::vector<model::DenoiseLane> dl;
    for (int k = 0; k < lanes; ++k) {
      const int64_t offset = n + kSteps - (first + k);
      dl.push_back({k, offset, offset + ri.rope_delta});
      const auto ns = noise_of(first + k, wp_n);
      std::copy(ns.begin(), ns.end(), x.begin() + (first + k) * wp_n);
    }
    exec->denoise(x.data() + first * wp_n, dl, 2, {});
  };
  std::vector<std::vector<int32_t>> alone_tokens(kLanes), batch_tokens(kLanes);
  std::vector<float> alone_x(static_cast<size_t>(kLanes * wp_n)), batch_x(alone_x.size());
  for (int k = 0; k < kLanes; ++k) run(k, 1, alone_tokens, alone_x);
  run(0, kLanes, batch_tokens, batch_x);
  for (int k = 0; k < kLanes; ++k) {
    CHECK_EQ(batch_tokens[static_cast<size_t>(k)].size(), static_cast<size_t>(kSteps - k));
    CHECK(batch_tokens[static_cast<size_t>(k)] == alone_tokens[static_cast<size_t>(k)]);
  }
  CHECK(batch_x == alone_x);
  if (temperature > 0) CHECK(alone_tokens[0] != alone_tokens[1]);  // the streams differ, so the check bites
}

TEST(lanes_executor_greedy_equals_one_lane_at_a_time) { check_executor_lanes(0.0f); }
TEST(lanes_executor_sampled_equals_one_lane_at_a_time) { check_executor_lanes(0.6f); }

// select_tokens is TokenSampler::next per row, with a null sampler skipping its row.
TEST(lanes_select_tokens_is_next_per_row) {
  const SamplingParams sp{0.8f, 0.9f, 0, 0};
  std::vector<float> logits(3 * 5);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(std::sin(1.7 * static_cast<double>(i)));
  TokenSampler a(7), b(9), a2(7), b2(9);
  TokenSampler* rows[3] = {&a, nullptr, &b};
  const std::vector<int32_t> got = select_tokens(logits, rows, sp);
  CHECK_EQ(got.size(), size_t{3});
  CHECK_EQ(got[0], static_cast<int32_t>(a2.next(std::span<const float>(logits).subspan(0, 5), sp)));
  CHECK_EQ(got[1], -1);
  CHECK_EQ(got[2], static_cast<int32_t>(b2.next(std::span<const float>(logits).subspan(10, 5), sp)));
  CHECK_EQ(a.uniform(), a2.uniform());  // one draw each, as next() alone
}

}  // namespace
