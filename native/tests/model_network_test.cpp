// The network over the CPU executor against PyTorch: golden numbers from model_golden_gen.py
// (transformers 5 Qwen3-VL classes + the official PerWaypointActionInProjV2, formula weights of
// model_test_weights.hpp, tiny preset), plus invariants: decode == prefill, the expert reads only the
// cache prefix, identical results across thread counts, parameter_specs == the names read.
#include <cmath>
#include <set>
#include <vector>

#include "backends/cpu/cpu_ops.hpp"
#include "model/backbone.hpp"
#include "model/config.hpp"
#include "model/expert.hpp"
#include "model/param_specs.hpp"
#include "model/token_layout.hpp"
#include "model/vision.hpp"
#include "tests/check.hpp"
#include "core/error.hpp"
#include "tests/check.hpp"
#include "tests/model_test_weights.hpp"

using namespace alp;
using namespace alp::model;

namespace {

struct Fixture {
  ModelConfig cfg = parse_model_config(preset_config("tiny"));
  std::map<std::string, Tensor, std::less<>> weights = test::formula_weights(cfg);
  std::unique_ptr<cpu::CpuOps> make_ops(int threads = 2, Precision prec = Precision::FP32) {
    return test::cpu_ops_over(weights, prec, threads);
  }
  int64_t img = token_layout_id("<|image_pad|>");
  std::vector<int64_t> ids() const {
    std::vector<int64_t> v = {257, 10, 20, token_layout_id("<|vision_start|>")};
    for (int i = 0; i < 8; ++i) v.push_back(img);
    for (int64_t t : {token_layout_id("<|vision_end|>"), int64_t{30}, int64_t{40}, int64_t{50}}) v.push_back(t);
    return v;
  }
  std::vector<ImageGrid> grids{{1, 4, 8}};
  std::vector<float> patches() const {
    std::vector<float> p(32 * 1536);
    for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>(std::sin(0.013 * static_cast<double>(i)));
    return p;
  }
};

struct PromptRun {
  std::vector<float> prefill_logits, decode_logits;
  int64_t rope_delta = 0, n = 0;
};

PromptRun run_prompt(Fixture& f, cpu::CpuOps& ops, VisionOutput* vis_out = nullptr) {
  PromptRun r;
  const auto ids = f.ids();
  const auto px = f.patches();
  reserve_kv_cache(ops, f.cfg, 64);
  VisionOutput vis = run_vision(ops, f.cfg, ops.input("pixel_patches", {32, 1536}, px), f.grids);
  RopeIndex ri = rope_index(f.cfg, ids, f.grids);
  r.rope_delta = ri.rope_delta;
  r.n = static_cast<int64_t>(ids.size());
  r.prefill_logits = ops.read("logits", prefill(ops, f.cfg, ids, ri.pos, &vis));
  r.decode_logits = ops.read("logits", decode(ops, f.cfg, 77, r.n, r.n + r.rope_delta));
  if (vis_out) *vis_out = vis;
  return r;
}

void check_values(const std::vector<float>& got, std::initializer_list<size_t> idx, std::initializer_list<double> want,
                  double tol) {
  auto w = want.begin();
  for (size_t i : idx) CHECK_NEAR(got.at(i), *w++, tol);
}

int64_t argmax(const std::vector<float>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); }

}  // namespace

TEST(model_tiny_matches_pytorch_vision_prefill_decode) {
  Fixture f;
  auto ops = f.make_ops();
  VisionOutput vis;
  PromptRun r = run_prompt(f, *ops, &vis);
  CHECK_EQ(r.rope_delta, -4);
  const auto e = cpu::CpuOps::values(vis.embeds);
  CHECK(vis.embeds->shape == (Shape{8, 64}));
  check_values(e, {0, 1, 2, 3}, {0.07033446, -0.08114436, 0.01536661, -0.024857}, 2e-6);
  check_values(e, {7 * 64 + 60, 7 * 64 + 61, 7 * 64 + 62, 7 * 64 + 63}, {-0.1376988, 0.230345, -0.2345798, 0.2996253}, 2e-6);
  const auto ds = cpu::CpuOps::values(vis.deepstack.at(1));
  check_values(ds, {3 * 64 + 0, 3 * 64 + 1, 3 * 64 + 2, 3 * 64 + 3}, {-0.02364299, 0.006497065, -0.04565581, 0.01103681}, 2e-6);
  check_values(r.prefill_logits, {0, 1, 257, 4309}, {1.013957, -0.1577177, -1.024818, -0.5108126}, 2e-5);
  CHECK_EQ(argmax(r.prefill_logits), 774);
  check_values(r.decode_logits, {0, 1, 257, 4309}, {0.3522554, 0.8163544, 0.06071739, 0.6749417}, 2e-5);
  CHECK_EQ(argmax(r.decode_logits), 2851);
}

TEST(model_tiny_expert_matches_pytorch) {
  Fixture f;
  auto ops = f.make_ops();
  PromptRun r = run_prompt(f, *ops);
  const int64_t offset = r.n + 1;  // prompt + the decoded token
  std::vector<float> x(128), noise(128);
  for (int i = 0; i < 128; ++i) x[i] = static_cast<float>(0.5 * std::sin(i)), noise[i] = static_cast<float>(std::cos(i));
  const float t = 0.3f;
  Value v = expert_velocity(*ops, f.cfg, ops->input("x", {64, 2}, x), ops->input("t", {1, 1}, std::span<const float>(&t, 1)),
                            offset, r.rope_delta);
  check_values(cpu::CpuOps::values(v), {0, 1, 64, 127}, {0.3069781, 0.01778206, 0.08087715, 0.02956201}, 2e-5);
  // Two Euler steps (see model_golden_gen.py for why not ten).
  ModelConfig two = f.cfg;
  two.num_inference_steps = 2;
  const auto den = denoise(*ops, two, noise, offset, r.rope_delta);
  check_values(den, {0, 1, 64, 127}, {1.151404, 0.5060866, 0.5476955, 0.28733}, 2e-5);
  // The ten-step loop equals x += dt·v(x, t_i) on the torch.linspace grid, step by step.
  const auto ts = flow_time_steps(10);
  CHECK_EQ(ts[3], 0.3f);  // torch.linspace(0, 1, 11)[3] is the fp32 nearest to 0.3
  Value xx = ops->input("x", {64, 2}, noise);
  for (int i = 0; i < 10; ++i) {
    Value vv = expert_velocity(*ops, f.cfg, xx, ops->input("t", {1, 1}, std::span<const float>(&ts[i], 1)), offset, r.rope_delta);
    xx = ops->add(xx, ops->scale(vv, ts[i + 1] - ts[i]));
  }
  CHECK(cpu::CpuOps::values(xx) == denoise(*ops, f.cfg, noise, offset, r.rope_delta));
}

TEST(model_decode_equals_prefill_of_same_sequence) {
  Fixture f;
  auto a = f.make_ops();
  PromptRun r = run_prompt(f, *a);  // prefill(ids) then decode(77)
  auto ids = f.ids();
  ids.push_back(77);
  auto b = f.make_ops();
  reserve_kv_cache(*b, f.cfg, 64);
  const auto px = f.patches();
  VisionOutput vis = run_vision(*b, f.cfg, b->input("pixel_patches", {32, 1536}, px), f.grids);
  RopeIndex ri = rope_index(f.cfg, ids, f.grids);
  const auto full = b->read("logits", prefill(*b, f.cfg, ids, ri.pos, &vis));
  double worst = 0;
  for (size_t i = 0; i < full.size(); ++i) worst = std::max(worst, std::fabs(double(full[i]) - r.decode_logits[i]));
  CHECK(worst <= 1e-5);
}

TEST(model_expert_reads_only_cache_prefix) {
  Fixture f;
  auto ops = f.make_ops();
  PromptRun r = run_prompt(f, *ops);
  std::vector<float> x(128, 0.25f);
  const float t = 0.5f;
  const int64_t offset = r.n;  // excludes the decoded token at position n
  auto vel = [&] {
    return cpu::CpuOps::values(expert_velocity(*ops, f.cfg, ops->input("x", {64, 2}, x),
                                               ops->input("t", {1, 1}, std::span<const float>(&t, 1)), offset, r.rope_delta));
  };
  const auto before = vel();
  // Overwrite cache positions >= offset (another rollout's tokens): the result must not move.
  for (int64_t pos = offset; pos < offset + 5; ++pos) decode(*ops, f.cfg, 1000 + pos, pos, pos + r.rope_delta);
  const auto after = vel();
  CHECK(before == after);
  // ...while a different prefix length does change it (the test can fail).
  const auto other = cpu::CpuOps::values(expert_velocity(*ops, f.cfg, ops->input("x", {64, 2}, x),
                                                         ops->input("t", {1, 1}, std::span<const float>(&t, 1)), offset + 3, r.rope_delta));
  CHECK(before != other);
}

TEST(model_prefill_deterministic_across_thread_counts) {
  Fixture f;
  auto one = f.make_ops(1);
  auto four = f.make_ops(4);
  PromptRun a = run_prompt(f, *one), b = run_prompt(f, *four);
  CHECK(a.prefill_logits == b.prefill_logits);
  CHECK(a.decode_logits == b.decode_logits);
}

TEST(model_parameter_specs_equal_names_read) {
  Fixture f;
  auto ops = f.make_ops();
  PromptRun r = run_prompt(f, *ops);
  std::vector<float> noise(128, 0.1f);
  denoise(*ops, f.cfg, noise, r.n, r.rope_delta);
  std::set<std::string, std::less<>> specs;
  for (const auto& p : parameter_specs(f.cfg)) specs.insert(p.name);
  CHECK_EQ(specs.size(), parameter_specs(f.cfg).size());  // no duplicates
  CHECK(specs == ops->requested_weights());
  const int64_t params = parameter_count(f.cfg);
  CHECK(params > 700'000 && params < 1'300'000);
  const int64_t small = parameter_count(parse_model_config(preset_config("small")));
  CHECK(small > 18'000'000 && small < 30'000'000);
}

TEST(model_precision_modes_stay_close_to_fp32) {
  Fixture f;
  auto ref = f.make_ops();
  const auto base = run_prompt(f, *ref).prefill_logits;
  double scale = 0;
  for (float v : base) scale = std::max(scale, double(std::fabs(v)));
  for (auto [prec, tol] : {std::pair{Precision::BF16, 0.03}, {Precision::FP16, 0.003}, {Precision::FP8, 0.25}}) {
    auto ops = f.make_ops(2, prec);
    const auto got = run_prompt(f, *ops).prefill_logits;
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - base[i]));
    CHECK(worst / scale < tol);
    CHECK(worst > 0);  // the mode did change the numbers
  }
}

TEST(model_rejects_mismatched_inputs) {
  Fixture f;
  auto ops = f.make_ops();
  reserve_kv_cache(*ops, f.cfg, 8);
  auto ids = f.ids();
  CHECK_THROWS_CODE(rope_index(f.cfg, ids, {}), ErrorCode::InvalidInput, "image grids");
  std::vector<int64_t> text = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  CHECK_THROWS_CODE(prefill(*ops, f.cfg, text, MropePositions::uniform(0, 9), nullptr), ErrorCode::InvalidInput, "capacity");
  std::vector<int64_t> bad = {f.cfg.vocab_size};
  CHECK_THROWS_CODE(prefill(*ops, f.cfg, bad, MropePositions::uniform(0, 1), nullptr), ErrorCode::InvalidInput, "token id");
  auto missing = std::make_unique<cpu::CpuOps>([](std::string_view n) -> Tensor {
    fail(ErrorCode::InvalidCheckpoint, "missing tensor " + std::string(n));
  });
  reserve_kv_cache(*missing, f.cfg, 8);
  std::vector<int64_t> one = {1};
  CHECK_THROWS_CODE(prefill(*missing, f.cfg, one, MropePositions::uniform(0, 1), nullptr), ErrorCode::InvalidCheckpoint,
                    "vlm.model.language_model.embed_tokens.weight");
}
