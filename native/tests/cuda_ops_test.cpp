// CudaOps (the CUDA executor of alp::model::Ops) against CpuOps, the reference semantics: every op on
// random inputs, then the tiny network end to end (vision, prefill, decode, expert, denoise), the
// captured denoising graph against the eager loop, precision modes, and the memory rules (reset,
// no growth across replays). Everything but the no-device error needs a GPU and skips without one.
#if ALPAMAYO_HAVE_CUDA
#include <algorithm>
#include <cmath>
#include <map>
#include <thread>
#include <string>
#include <vector>

#include "backends/cpu/cpu_ops.hpp"
#include "backends/cuda/cuda_denoise.hpp"
#include "backends/cuda/cuda_ops.hpp"
#include "backends/cuda/frame_staging.hpp"
#include "model/preprocess.hpp"
#include "model/backbone.hpp"
#include "model/config.hpp"
#include "model/expert.hpp"
#include "model/param_specs.hpp"
#include "model/token_layout.hpp"
#include "model/vision.hpp"
#include "tests/check.hpp"
#include "tests/cuda_test_util.hpp"
#include "tests/model_test_weights.hpp"

using namespace alp;
using model::Value;

namespace {

using WeightMap = std::map<std::string, Tensor, std::less<>>;

cuda::CudaOptions exact_options(Precision p = Precision::FP32) {
  cuda::CudaOptions o;
  o.precision = p;
  o.use_cublaslt = false;  // the fallback GEMM keeps fp32 activations, as the CPU executor does
  o.use_cudnn = false;     // ... and the built-in attention fp32 softmax inputs
  o.arena_bytes = size_t(8) << 20;
  return o;
}

// max |got - want| relative to max(1, max |want|); prints the op name on failure.
double rel_err(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return 1e30;
  double worst = 0, scale = 1;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::fabs(double(got[i]) - want[i]));
    scale = std::max(scale, std::fabs(double(want[i])));
    if (std::isnan(got[i]) != std::isnan(want[i])) return 1e30;
  }
  return worst / scale;
}

#define CHECK_CLOSE(what, got, want, tol)                                                     \
  do {                                                                                        \
    const double alp_e_ = rel_err(got, want);                                                 \
    if (!(alp_e_ <= (tol))) {                                                                 \
      std::ostringstream alp_os_;                                                             \
      alp_os_ << what << ": relative error " << alp_e_ << " > " << (tol);                     \
      ::alp::test::record_failure(__FILE__, __LINE__, alp_os_.str());                         \
    }                                                                                         \
  } while (0)

std::vector<float> random_vec(size_t n, uint64_t seed, float scale = 1.f) {
  test::Lcg g(seed);
  std::vector<float> v(n);
  for (float& x : v) x = g.uniform() * scale;
  return v;
}

// Runs one op on both executors with the same host inputs.
struct Pair {
  WeightMap weights;
  cpu::CpuOps cpu{test::weight_source(weights), cpu::CpuOptions{Precision::FP32, 1}};
  cuda::CudaOps gpu{test::weight_source(weights), exact_options()};
  struct V {
    Value c, g;
  };
  V in(const std::string& name, Shape s, uint64_t seed, float scale = 1.f) {
    const auto d = random_vec(static_cast<size_t>(shape_numel(s)), seed, scale);
    return {cpu.input(name, s, d), gpu.input(name, s, d)};
  }
  V idx(const std::string& name, Shape s, const std::vector<int64_t>& d) {
    return {cpu.input_index(name, s, d), gpu.input_index(name, s, d)};
  }
  V w(const std::string& name) { return {cpu.weight(name, {}), gpu.weight(name, {})}; }
  void check(const char* what, const V& v, double tol = 1e-5) {
    CHECK(v.c->shape == v.g->shape);
    CHECK_CLOSE(what, gpu.read(what, v.g), cpu::CpuOps::values(v.c), tol);
  }
};

}  // namespace

TEST(cuda_ops_no_device_is_backend_unavailable) {
  const std::string why = test::cuda_skip_reason();
  WeightMap none;
  if (why.empty()) {
    cuda::CudaOptions o;
    o.device = 1 << 20;
    CHECK_THROWS_CODE(cuda::CudaOps(test::weight_source(none), o), ErrorCode::InvalidInput, "cuda device");
    return;
  }
  CHECK_THROWS_CODE(cuda::CudaOps(test::weight_source(none)), ErrorCode::BackendUnavailable,
                    "CUDA backend requested but no CUDA device is available: ");
  CHECK_THROWS_CODE(cuda::make_cuda_ops(nullptr, "fp32"), ErrorCode::InvalidInput, "null checkpoint");
}

TEST(cuda_ops_dense_maths_match_cpu) {
  REQUIRE_CUDA_DEVICE();
  Pair p;
  p.weights.emplace("w", test::formula_tensor("w", {48, 40}));
  p.weights.emplace("b", test::formula_tensor("b.bias", {48}));
  p.weights.emplace("g", test::formula_tensor("g.weight", {40}));
  p.weights.emplace("g16", test::formula_tensor("g16.weight", {16}));
  auto x = p.in("x", {7, 40}, 1);
  auto w = p.w("w"), b = p.w("b"), g = p.w("g");
  p.check("linear", {p.cpu.linear(x.c, w.c, b.c), p.gpu.linear(x.g, w.g, b.g)});
  p.check("linear_nobias", {p.cpu.linear(x.c, w.c, nullptr), p.gpu.linear(x.g, w.g, nullptr)});
  // An activation as the weight operand (the exporter-style path of linear()).
  auto wa = p.in("wa", {9, 40}, 2);
  p.check("linear_act_weight", {p.cpu.linear(x.c, wa.c, nullptr), p.gpu.linear(x.g, wa.g, nullptr)});
  p.check("rms_norm", {p.cpu.rms_norm(x.c, g.c, 1e-6f), p.gpu.rms_norm(x.g, g.g, 1e-6f)});
  p.check("layer_norm", {p.cpu.layer_norm(x.c, g.c, g.c, 1e-5f), p.gpu.layer_norm(x.g, g.g, g.g, 1e-5f)});
  auto q3 = p.in("q", {5, 3, 16}, 3);
  auto g16 = p.w("g16");
  p.check("rms_norm_heads", {p.cpu.rms_norm(q3.c, g16.c, 1e-6f), p.gpu.rms_norm(q3.g, g16.g, 1e-6f)});
  auto cs = p.in("cos", {5, 16}, 4), sn = p.in("sin", {5, 16}, 5);
  p.check("rope", {p.cpu.rope(q3.c, cs.c, sn.c), p.gpu.rope(q3.g, cs.g, sn.g)});
  // Attention: GQA 4 query heads over 2 kv heads; prefill causal with a cache prefix, full, decode.
  auto q = p.in("q", {6, 4, 16}, 6), k = p.in("k", {9, 2, 16}, 7), v = p.in("v", {9, 2, 16}, 8);
  const float sc = 0.25f;
  p.check("attention_causal", {p.cpu.attention(q.c, k.c, v.c, model::AttentionMask::causal(3), sc),
                               p.gpu.attention(q.g, k.g, v.g, model::AttentionMask::causal(3), sc)});
  p.check("attention_full", {p.cpu.attention(q.c, k.c, v.c, model::AttentionMask::none(), sc),
                             p.gpu.attention(q.g, k.g, v.g, model::AttentionMask::none(), sc)});
  auto q1 = p.in("q1", {1, 4, 16}, 9);
  p.check("attention_decode", {p.cpu.attention(q1.c, k.c, v.c, model::AttentionMask::causal(8), sc),
                               p.gpu.attention(q1.g, k.g, v.g, model::AttentionMask::causal(8), sc)});
  p.check("attention_decode_short", {p.cpu.attention(q1.c, k.c, v.c, model::AttentionMask::causal(4), sc),
                                     p.gpu.attention(q1.g, k.g, v.g, model::AttentionMask::causal(4), sc)});
  p.check("attention_decode_full", {p.cpu.attention(q1.c, k.c, v.c, model::AttentionMask::none(), sc),
                                    p.gpu.attention(q1.g, k.g, v.g, model::AttentionMask::none(), sc)});
}

TEST(cuda_ops_elementwise_and_layout_match_cpu) {
  REQUIRE_CUDA_DEVICE();
  Pair p;
  p.weights.emplace("table", test::formula_tensor("table", {11, 6}));
  auto x = p.in("x", {5, 6}, 11, 4.f), y = p.in("y", {5, 6}, 12), row = p.in("row", {6}, 13);
  p.check("silu", {p.cpu.silu(x.c), p.gpu.silu(x.g)});
  p.check("gelu_tanh", {p.cpu.gelu_tanh(x.c), p.gpu.gelu_tanh(x.g)});
  p.check("gelu_erf", {p.cpu.gelu_erf(x.c), p.gpu.gelu_erf(x.g)});
  p.check("add", {p.cpu.add(x.c, y.c), p.gpu.add(x.g, y.g)}, 0);
  p.check("add_row", {p.cpu.add(x.c, row.c), p.gpu.add(x.g, row.g)}, 0);
  p.check("mul", {p.cpu.mul(x.c, y.c), p.gpu.mul(x.g, y.g)}, 0);
  p.check("mul_row", {p.cpu.mul(x.c, row.c), p.gpu.mul(x.g, row.g)}, 0);
  p.check("scale", {p.cpu.scale(x.c, -0.37f), p.gpu.scale(x.g, -0.37f)}, 0);
  const std::vector<float> freqs = {1.f, 3.1622777f, 10.f, 31.622776f, 100.f};
  auto a = p.in("a", {4, 3}, 14, 3.f);
  // sin/cos of arguments up to ~2000 rad: both sides round the same fp32 argument once.
  p.check("fourier_features", {p.cpu.fourier_features(a.c, freqs), p.gpu.fourier_features(a.g, freqs)}, 1e-6);
  auto table = p.w("table");
  auto ids = p.idx("ids", {4}, {3, 0, 10, 3});
  p.check("embedding", {p.cpu.embedding(table.c, ids.c), p.gpu.embedding(table.g, ids.g)}, 0);
  auto ti = p.idx("ti", {3, 4}, {0, 1, 5, 6, 10, 9, 2, 2, 4, 4, 4, 7});
  auto tw = p.in("tw", {3, 4}, 15);
  p.check("interp_rows", {p.cpu.interp_rows(table.c, ti.c, tw.c), p.gpu.interp_rows(table.g, ti.g, tw.g)}, 1e-6);
  auto src = p.in("src", {3, 6}, 16);
  auto ri = p.idx("ri", {3}, {4, 1, 4});  // a duplicate: last write wins / both add, in order
  p.check("scatter_rows", {p.cpu.scatter_rows(x.c, ri.c, src.c), p.gpu.scatter_rows(x.g, ri.g, src.g)}, 0);
  p.check("index_add_rows", {p.cpu.index_add_rows(x.c, ri.c, src.c), p.gpu.index_add_rows(x.g, ri.g, src.g)}, 0);
  auto t3 = p.in("t3", {4, 3, 5}, 17);
  p.check("slice0", {p.cpu.slice(t3.c, 0, 1, 3), p.gpu.slice(t3.g, 0, 1, 3)}, 0);
  p.check("slice1", {p.cpu.slice(t3.c, 1, 1, 3), p.gpu.slice(t3.g, 1, 1, 3)}, 0);
  p.check("slice2", {p.cpu.slice(t3.c, 2, 2, 5), p.gpu.slice(t3.g, 2, 2, 5)}, 0);
  auto u3 = p.in("u3", {4, 2, 5}, 18);
  p.check("concat1", {p.cpu.concat({t3.c, u3.c}, 1), p.gpu.concat({t3.g, u3.g}, 1)}, 0);
  p.check("concat0", {p.cpu.concat({t3.c, t3.c}, 0), p.gpu.concat({t3.g, t3.g}, 0)}, 0);
  p.check("reshape", {p.cpu.reshape(t3.c, {-1, 5}), p.gpu.reshape(t3.g, {-1, 5})}, 0);
  p.check("transpose", {p.cpu.transpose(t3.c, {2, 0, 1}), p.gpu.transpose(t3.g, {2, 0, 1})}, 0);
  auto one = p.in("one", {1, 6}, 19);
  p.check("expand_rows", {p.cpu.expand_rows(one.c, 7), p.gpu.expand_rows(one.g, 7)}, 0);
  // Bad ids are rejected on the host, before anything is launched.
  CHECK_THROWS_CODE(p.gpu.embedding(table.g, p.gpu.input_index("bad", {1}, std::vector<int64_t>{11})),
                    ErrorCode::InvalidInput, "outside [0, 11)");
}

TEST(cuda_ops_kv_cache_views_match_cpu) {
  REQUIRE_CUDA_DEVICE();
  Pair p;
  p.cpu.kv_reserve(2, 12, 2, 16);
  p.gpu.kv_reserve(2, 12, 2, 16);
  auto k = p.in("k", {5, 2, 16}, 21), v = p.in("v", {5, 2, 16}, 22);
  auto k2 = p.in("k2", {3, 2, 16}, 23), v2 = p.in("v2", {3, 2, 16}, 24);
  p.cpu.kv_write(1, 0, k.c, v.c);
  p.gpu.kv_write(1, 0, k.g, v.g);
  p.cpu.kv_write(1, 5, k2.c, v2.c);
  p.gpu.kv_write(1, 5, k2.g, v2.g);
  auto [ck, cv] = p.cpu.kv_read(1, 8);
  auto [gk, gv] = p.gpu.kv_read(1, 8);
  p.check("kv_read_k", {ck, gk}, 0);
  p.check("kv_read_v", {cv, gv}, 0);
  auto q = p.in("q", {3, 4, 16}, 25);
  p.check("attention_over_cache", {p.cpu.attention(q.c, ck, cv, model::AttentionMask::causal(5), 0.25f),
                                   p.gpu.attention(q.g, gk, gv, model::AttentionMask::causal(5), 0.25f)});
  // The expert's read: prefix view concatenated with fresh rows.
  auto [pk, pv] = p.cpu.kv_read(1, 4);
  auto [qk, qv] = p.gpu.kv_read(1, 4);
  p.check("concat_cache_view", {p.cpu.concat({pk, k2.c}, 0), p.gpu.concat({qk, k2.g}, 0)}, 0);
  CHECK_THROWS_CODE(p.gpu.kv_write(0, 10, k.g, v.g), ErrorCode::InvalidInput, "exceed the capacity 12");
}

namespace {

struct Tiny {
  model::ModelConfig cfg = model::parse_model_config(model::preset_config("tiny"));
  WeightMap weights = test::formula_weights(cfg);
  std::vector<int64_t> ids() const {
    const int64_t img = model::token_layout_id("<|image_pad|>");
    std::vector<int64_t> v = {257, 10, 20, model::token_layout_id("<|vision_start|>")};
    for (int i = 0; i < 8; ++i) v.push_back(img);
    for (int64_t t : {model::token_layout_id("<|vision_end|>"), int64_t{30}, int64_t{40}, int64_t{50}}) v.push_back(t);
    return v;
  }
  std::vector<model::ImageGrid> grids{{1, 4, 8}};
  std::vector<float> patches() const {
    std::vector<float> p(32 * 1536);
    for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>(std::sin(0.013 * static_cast<double>(i)));
    return p;
  }
};

struct Run {
  std::vector<float> vision, prefill, decode, velocity, denoised;
  int64_t n = 0, rope_delta = 0;
};

// The model code's own sequence on any executor; `persist` moves the vision output out of the arena
// on CUDA, and reset() runs between phases there.
Run run_tiny(Tiny& t, model::Ops& ops, cuda::CudaOps* gpu) {
  Run r;
  const auto ids = t.ids();
  const auto px = t.patches();
  model::reserve_kv_cache(ops, t.cfg, 64);
  model::VisionOutput vis = model::run_vision(ops, t.cfg, ops.input("pixel_patches", {32, 1536}, px), t.grids);
  if (gpu) {
    vis.embeds = gpu->persist(vis.embeds);
    for (Value& d : vis.deepstack) d = gpu->persist(d);
    gpu->reset();
  }
  r.vision = ops.read("vision", vis.embeds);
  model::RopeIndex ri = model::rope_index(t.cfg, ids, t.grids);
  r.rope_delta = ri.rope_delta;
  r.n = static_cast<int64_t>(ids.size());
  r.prefill = ops.read("logits", model::prefill(ops, t.cfg, ids, ri.pos, &vis));
  if (gpu) gpu->reset();
  r.decode = ops.read("logits", model::decode(ops, t.cfg, 77, r.n, r.n + r.rope_delta));
  if (gpu) gpu->reset();
  std::vector<float> x(128), noise(128);
  for (int i = 0; i < 128; ++i) x[i] = static_cast<float>(0.5 * std::sin(i)), noise[i] = static_cast<float>(std::cos(i));
  const float tt = 0.3f;
  r.velocity = ops.read("v", model::expert_velocity(ops, t.cfg, ops.input("x", {64, 2}, x),
                                                    ops.input("t", {1, 1}, std::span<const float>(&tt, 1)), r.n + 1, r.rope_delta));
  r.denoised = model::denoise(ops, t.cfg, noise, r.n + 1, r.rope_delta);
  return r;
}

}  // namespace

TEST(cuda_ops_tiny_network_matches_cpu) {
  REQUIRE_CUDA_DEVICE();
  Tiny t;
  cpu::CpuOps c(test::weight_source(t.weights), cpu::CpuOptions{Precision::FP32, 2});
  cuda::CudaOps g(test::weight_source(t.weights), exact_options());
  const Run want = run_tiny(t, c, nullptr);
  const Run got = run_tiny(t, g, &g);
  CHECK_CLOSE("vision embeds", got.vision, want.vision, 1e-5);
  CHECK_CLOSE("prefill logits", got.prefill, want.prefill, 1e-4);
  CHECK_CLOSE("decode logits", got.decode, want.decode, 1e-4);
  CHECK_CLOSE("expert velocity", got.velocity, want.velocity, 1e-4);
  CHECK_CLOSE("denoised actions", got.denoised, want.denoised, 1e-4);
  // The same weights were read: the parameter list is the network's.
  CHECK(g.requested_weights() == c.requested_weights());
}

TEST(cuda_denoise_graph_matches_eager_and_replays) {
  REQUIRE_CUDA_DEVICE();
  Tiny t;
  cuda::CudaOps g(test::weight_source(t.weights), exact_options());
  const Run r = run_tiny(t, g, &g);
  const int64_t offset = r.n + 1;
  std::vector<float> noise = random_vec(128, 99);
  g.reset();
  const auto eager = model::denoise(g, t.cfg, noise, offset, r.rope_delta);
  cuda::CudaDenoiser d(g);
  const auto graphed = d.denoise(t.cfg, noise, offset, r.rope_delta);
  CHECK(graphed == eager);  // same kernels in the same order: bit-identical
  CHECK_EQ(d.graph_count(), size_t(1));
  // A replay reads the new noise (not the noise baked at capture) and allocates nothing new.
  const size_t arena = g.arena_reserved_bytes();
  std::vector<float> other = random_vec(128, 100);
  const auto eager2 = model::denoise(g, t.cfg, other, offset, r.rope_delta);
  const auto graphed2 = d.denoise(t.cfg, other, offset, r.rope_delta);
  CHECK(graphed2 == eager2);
  CHECK(graphed2 != graphed);
  CHECK_EQ(d.graph_count(), size_t(1));
  CHECK_EQ(g.arena_reserved_bytes(), arena);
  // Replays read the cache at launch: a changed prefix changes the result.
  model::decode(g, t.cfg, 5, 2, 2 + r.rope_delta);  // overwrite cache position 2 (inside the prefix)
  g.reset();
  const auto eager3 = model::denoise(g, t.cfg, other, offset, r.rope_delta);
  CHECK(d.denoise(t.cfg, other, offset, r.rope_delta) == eager3);
  CHECK(eager3 != eager2);
  // Another offset is another graph.
  d.denoise(t.cfg, other, offset - 1, r.rope_delta);
  CHECK_EQ(d.graph_count(), size_t(2));
  // A new cache (kv_reserve) drops every graph: they read the old cache's addresses.
  model::reserve_kv_cache(g, t.cfg, 64);
  d.denoise(t.cfg, other, offset, r.rope_delta);
  CHECK_EQ(d.graph_count(), size_t(1));
}

// K samples in one pass on the device: lanes over the shared prompt KV (kv_share, lane buffers gathered
// by kv_read), decode_lanes with ragged lengths, and the batched denoise both eager and as one captured
// graph, against the CPU executor doing the same (which the CPU tests pin to one-sample-at-a-time).
TEST(cuda_lanes_decode_and_denoise_match_cpu) {
  REQUIRE_CUDA_DEVICE();
  Tiny t;
  t.cfg.num_inference_steps = 3;
  const std::vector<std::vector<int64_t>> toks = {{77, 5, 900, 41}, {300, 8}, {77, 6, 6}};
  struct Out {
    std::vector<std::vector<float>> logits;
    std::vector<float> eager, graphed;
  };
  auto run = [&](model::Ops& ops, cuda::CudaOps* gpu) {
    Out o;
    const auto ids = t.ids();
    const auto px = t.patches();
    model::reserve_kv_cache(ops, t.cfg, 32);
    model::VisionOutput vis = model::run_vision(ops, t.cfg, ops.input("pixel_patches", {32, 1536}, px), t.grids);
    if (gpu) {
      vis.embeds = gpu->persist(vis.embeds);
      for (Value& d : vis.deepstack) d = gpu->persist(d);
      gpu->reset();
    }
    const model::RopeIndex ri = model::rope_index(t.cfg, ids, t.grids);
    const int64_t n = static_cast<int64_t>(ids.size());
    ops.read("logits", model::prefill(ops, t.cfg, ids, ri.pos, &vis));
    ops.kv_share(n, static_cast<int64_t>(toks.size()));
    for (size_t i = 0; i < 4; ++i) {
      if (gpu) gpu->reset();
      std::vector<model::LaneToken> step;
      for (size_t s = 0; s < toks.size(); ++s)
        if (i < toks[s].size()) step.push_back({static_cast<int64_t>(s), toks[s][i], n + int64_t(i), n + int64_t(i) + ri.rope_delta});
      o.logits.push_back(ops.read("logits", model::decode_lanes(ops, t.cfg, step)));
    }
    std::vector<model::ExpertLane> lanes;
    for (size_t s = 0; s < toks.size(); ++s) lanes.push_back({int64_t(s), n + int64_t(toks[s].size()), ri.rope_delta});
    const std::vector<float> noise = random_vec(128 * toks.size(), 7);
    if (gpu) gpu->reset();
    o.eager = model::denoise(ops, t.cfg, noise, lanes);
    if (gpu) {
      gpu->reset();
      cuda::CudaDenoiser d(*gpu);
      o.graphed = d.denoise(t.cfg, noise, lanes);
    }
    return o;
  };
  cpu::CpuOps c(test::weight_source(t.weights), cpu::CpuOptions{alp::Precision::FP32, 2});
  cuda::CudaOps g(test::weight_source(t.weights), exact_options());
  const Out want = run(c, nullptr);
  const Out got = run(g, &g);
  CHECK_EQ(got.logits.size(), want.logits.size());
  for (size_t i = 0; i < want.logits.size(); ++i) CHECK_CLOSE("lane logits step " + std::to_string(i), got.logits[i], want.logits[i], 1e-4);
  CHECK_CLOSE("batched denoise (eager)", got.eager, want.eager, 1e-4);
  CHECK(got.graphed == got.eager);  // same kernels in the same order
}

TEST(cuda_ops_precision_modes_match_cpu_modes) {
  REQUIRE_CUDA_DEVICE();
  Tiny t;
  // bf16/fp16: identical rounded weights, fp32 activations on both (fallback GEMM); fp8: the same
  // per-tensor e4m3 rule for weights and activations, so only summation order differs.
  for (auto [prec, tol] : {std::pair{Precision::BF16, 1e-4}, {Precision::FP16, 1e-4}, {Precision::FP8, 1e-3}}) {
    cpu::CpuOps c(test::weight_source(t.weights), cpu::CpuOptions{prec, 2});
    cuda::CudaOps g(test::weight_source(t.weights), exact_options(prec));
    const Run want = run_tiny(t, c, nullptr);
    const Run got = run_tiny(t, g, &g);
    CHECK_CLOSE(precision_name(prec), got.prefill, want.prefill, tol);
    CHECK_CLOSE(precision_name(prec), got.denoised, want.denoised, tol);
  }
#if ALPAMAYO_HAVE_CUBLASLT
  // cuBLASLt casts activations to bf16: close to the CPU bf16 mode, not equal.
  cuda::CudaOptions lt = exact_options(Precision::BF16);
  lt.use_cublaslt = true;
  cpu::CpuOps c(test::weight_source(t.weights), cpu::CpuOptions{Precision::BF16, 2});
  cuda::CudaOps g(test::weight_source(t.weights), lt);
  CHECK_CLOSE("bf16 cublaslt", run_tiny(t, g, &g).prefill, run_tiny(t, c, nullptr).prefill, 0.05);
#endif
}

TEST(cuda_ops_reset_invalidates_arena_values_only) {
  REQUIRE_CUDA_DEVICE();
  WeightMap none;
  cuda::CudaOps g(test::weight_source(none), exact_options());
  const std::vector<float> d = {1, 2, 3, 4};
  Value a = g.input("a", {2, 2}, d);
  Value kept = g.persist(a);
  g.reset();
  CHECK_THROWS_CODE(g.read("a", a), ErrorCode::Internal, "reset()");
  CHECK(g.read("kept", kept) == d);
  // Dropped Values are reused: a long chain at constant live size does not grow the arena.
  Value x = g.input("x", {256, 256}, std::vector<float>(256 * 256, 0.5f));
  const size_t before = g.arena_reserved_bytes();
  for (int i = 0; i < 2000; ++i) x = g.scale(x, 1.0f);
  CHECK_EQ(g.arena_reserved_bytes(), before);
  CHECK(g.read("x", x)[12345] == 0.5f);
}
// ---- the defects of issue 16, each as the failure it caused -----------------------------------

TEST(cuda_gemm_scratch_growth_after_capture_keeps_replays_valid) {
  // Was: a captured denoise graph kept cuBLASLt's cast scratch address and a later, larger GEMM
  // reallocated that scratch: the next replay read freed memory. Now growth happens only outside
  // capture and drops the graphs that captured the old address; the replay after it is recaptured.
  REQUIRE_CUDA_DEVICE();
#if ALPAMAYO_HAVE_CUBLASLT
  Tiny t;
  cuda::CudaOptions o = exact_options(Precision::BF16);
  o.use_cublaslt = true;
  cuda::CudaOps g(test::weight_source(t.weights), o);
  CHECK(g.libraries().find("cuBLASLt 13.") == 0);
  const Run r = run_tiny(t, g, &g);
  const int64_t offset = r.n + 1;
  const std::vector<float> noise = random_vec(128, 7);
  g.reset();
  cuda::CudaDenoiser d(g);
  const auto first = d.denoise(t.cfg, noise, offset, r.rope_delta);
  CHECK_EQ(d.graph_count(), size_t(1));
  const size_t scratch = g.gemm_scratch_bytes();
  const uint64_t generation = g.memory_generation();
  // A GEMM far larger than anything the loop ran: the scratch must grow.
  const int64_t rows = 4096, k = t.cfg.text.hidden_size;
  Value big = g.input("big", {rows, k}, random_vec(size_t(rows * k), 8));
  Value w = g.weight("vlm.lm_head.weight", {});
  g.read("y", g.linear(big, w, nullptr));
  CHECK(g.gemm_scratch_bytes() > scratch);
  CHECK(g.memory_generation() != generation);  // graphs over the old scratch are stale
  g.reset();
  const auto again = d.denoise(t.cfg, noise, offset, r.rope_delta);
  CHECK(again == first);  // recaptured over the new scratch: same kernels, same result
  CHECK_EQ(d.graph_count(), size_t(1));
#else
  SKIP("built without cuBLASLt headers");
#endif
}

TEST(cuda_two_planners_capture_at_the_same_time) {
  // Was: global capture mode, so one planner's cudaMalloc/sync on its own thread during another's
  // capture failed that capture (cudaErrorStreamCaptureUnsupported / Invalidated).
  REQUIRE_CUDA_DEVICE();
  Tiny t;
  std::vector<float> results[2];
  std::string errors[2];
  auto worker = [&](int id) {
    try {
      cuda::CudaOps g(test::weight_source(t.weights), exact_options());
      cuda::CudaDenoiser d(g);
      const Run r = run_tiny(t, g, &g);
      for (int i = 0; i < 6; ++i) {
        g.reset();
        // Different offsets force fresh captures while the other thread allocates and syncs.
        results[id] = d.denoise(t.cfg, random_vec(128, 40 + id), r.n + 1 - (i % 3), r.rope_delta);
        cuda::DeviceBuffer churn(size_t(1) << 20);  // cudaMalloc + cudaFree on this thread
        g.synchronize();
      }
    } catch (const std::exception& e) {
      errors[id] = e.what();
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  CHECK_EQ(errors[0], std::string());
  CHECK_EQ(errors[1], std::string());
  CHECK_EQ(results[0].size(), size_t(128));
  CHECK(results[0] != results[1]);
}

TEST(cuda_denoise_graph_cache_is_bounded) {
  // Was: one graph per prefix offset kept forever.
  REQUIRE_CUDA_DEVICE();
  Tiny t;
  cuda::CudaOptions o = exact_options();
  o.max_graphs = 2;
  cuda::CudaOps g(test::weight_source(t.weights), o);
  cuda::CudaDenoiser d(g);
  const Run r = run_tiny(t, g, &g);
  const auto noise = random_vec(128, 3);
  for (int64_t off = r.n + 1; off > r.n - 4; --off) {
    g.reset();
    const auto eager = model::denoise(g, t.cfg, noise, off, r.rope_delta);
    CHECK(d.denoise(t.cfg, noise, off, r.rope_delta) == eager);
    CHECK(d.graph_count() <= size_t(2));
  }
  CHECK_EQ(d.graph_count(), size_t(2));
  CHECK(d.graph_evictions() >= size_t(3));
}

TEST(cuda_fp8_weights_are_quantised_on_the_device_without_a_bf16_copy) {
  // Was: e4m3 copies made on the host at first use, the bf16 copies kept beside them.
  REQUIRE_CUDA_DEVICE();
  Tiny t;
  cuda::CudaOps g8(test::weight_source(t.weights), exact_options(Precision::FP8));
  cuda::CudaOps g16(test::weight_source(t.weights), exact_options(Precision::BF16));
  g8.preload(model::parameter_specs(t.cfg));
  g16.preload(model::parameter_specs(t.cfg));
  // Matrices take 1 byte per value instead of 2 (tables and rank-1 weights are the same in both).
  CHECK(double(g8.weight_bytes()) < 0.75 * double(g16.weight_bytes()));
  const uint64_t loaded = g8.weight_bytes();
  const Run r = run_tiny(t, g8, &g8);
  CHECK_EQ(g8.weight_bytes(), loaded);  // nothing quantised later, at first use
  // Same per-tensor rule as the CPU executor.
  cpu::CpuOps c(test::weight_source(t.weights), cpu::CpuOptions{Precision::FP8, 2});
  CHECK_CLOSE("fp8 prefill", r.prefill, run_tiny(t, c, nullptr).prefill, 1e-3);
}

TEST(cuda_executor_moves_between_threads) {
  // Was: cudaSetDevice only in the constructor; plans run on worker threads and destruction on the
  // JS thread. Made on one thread, used on a second, destroyed on a third.
  REQUIRE_CUDA_DEVICE();
  Tiny t;
  std::unique_ptr<cuda::CudaOps> g;
  std::thread([&] { g = std::make_unique<cuda::CudaOps>(test::weight_source(t.weights), exact_options()); }).join();
  Run got;
  std::thread([&] { got = run_tiny(t, *g, g.get()); }).join();
  std::thread([&] { g.reset(); }).join();
  cpu::CpuOps c(test::weight_source(t.weights), cpu::CpuOptions{Precision::FP32, 2});
  CHECK_CLOSE("prefill across threads", got.prefill, run_tiny(t, c, nullptr).prefill, 1e-4);
}
TEST(cuda_cudnn_attention_matches_builtin_for_every_mask) {
  // cuDNN SDPA (bf16 q/k/v) against the built-in fp32 kernels on the four attentions of the network:
  // ViT (dense, non-causal), prefill (causal block at the end of the cache), decode (one query over
  // the cache, length as a device value), expert (non-causal over [cache prefix | new rows]).
  REQUIRE_CUDA_DEVICE();
#if ALPAMAYO_HAVE_CUDNN
  WeightMap none;
  cuda::CudaOptions with = exact_options(Precision::BF16), without = with;
  with.use_cudnn = true;
  cuda::CudaOps a(test::weight_source(none), with), b(test::weight_source(none), without);
  CHECK(a.libraries().find("cuDNN 9.") != std::string::npos);
  CHECK(b.libraries().find("built-in attention") != std::string::npos);
  const int64_t hq = 8, hkv = 2, d = 64, cap = 300;
  for (cuda::CudaOps* g : {&a, &b}) g->kv_reserve(1, cap, hkv, d);
  auto both = [&](const char* name, Shape s, uint64_t seed) {
    const auto v = random_vec(size_t(shape_numel(s)), seed);
    return std::pair{a.input(name, s, v), b.input(name, s, v)};
  };
  auto kv = both("kv", {200, hkv, d}, 1);
  a.kv_write(0, 0, kv.first, kv.first);
  b.kv_write(0, 0, kv.second, kv.second);
  auto cmp = [&](const char* what, const Value& x, const Value& y) {
    CHECK_CLOSE(what, a.read(what, x), b.read(what, y), 2e-2);  // bf16 inputs vs fp32
  };
  // ViT: 72 rows, full.
  auto q = both("q", {72, hq, d}, 2), k = both("k", {72, hkv, d}, 3), v = both("v", {72, hkv, d}, 4);
  cmp("vit", a.attention(q.first, k.first, v.first, model::AttentionMask::none(), 0.125f),
      b.attention(q.second, k.second, v.second, model::AttentionMask::none(), 0.125f));
  // Prefill: 40 queries at positions [160, 200) over the cache view of 200.
  auto qp = both("qp", {40, hq, d}, 5);
  auto [ak, av] = a.kv_read(0, 200);
  auto [bk, bv] = b.kv_read(0, 200);
  cmp("prefill", a.attention(qp.first, ak, av, model::AttentionMask::causal(160), 0.125f),
      b.attention(qp.second, bk, bv, model::AttentionMask::causal(160), 0.125f));
  // Decode: one query at positions 130 and 199 (two 128-row buckets).
  for (int64_t past : {130, 199}) {
    auto qd = both("qd", {1, hq, d}, 6 + uint64_t(past));
    cmp("decode", a.attention(qd.first, ak, av, model::AttentionMask::causal(past), 0.125f),
        b.attention(qd.second, bk, bv, model::AttentionMask::causal(past), 0.125f));
  }
  // Expert: 16 rows over [prefix of 150 | 16 new rows], non-causal.
  auto [pk, pv] = a.kv_read(0, 150);
  auto [rk, rv] = b.kv_read(0, 150);
  auto qe = both("qe", {16, hq, d}, 9), ke = both("ke", {16, hkv, d}, 10);
  cmp("expert", a.attention(qe.first, a.concat({pk, ke.first}, 0), a.concat({pv, ke.first}, 0), model::AttentionMask::none(), 0.125f),
      b.attention(qe.second, b.concat({rk, ke.second}, 0), b.concat({rv, ke.second}, 0), model::AttentionMask::none(), 0.125f));
  // The tiny network end to end in bf16 with cuDNN attention stays close to the CPU bf16 mode.
  Tiny t;
  cuda::CudaOps g(test::weight_source(t.weights), with);
  cpu::CpuOps c(test::weight_source(t.weights), cpu::CpuOptions{Precision::BF16, 2});
  CHECK_CLOSE("bf16 cudnn network", run_tiny(t, g, &g).prefill, run_tiny(t, c, nullptr).prefill, 0.05);
#else
  SKIP("built without cuDNN headers");
#endif
}
TEST(cuda_plan_frames_preprocessed_on_the_device_match_the_host) {
  // Was: plans preprocessed on the host; preprocess.cu was reached only by tests. The plan's device
  // path (pinned staging, 16 frames in one launch sequence) must give the host's patches exactly.
  REQUIRE_CUDA_DEVICE();
  WeightMap none;
  cuda::CudaOps g(test::weight_source(none), exact_options());
  const int n = 16, in_h = 90, in_w = 160, out_h = 64, out_w = 128;
  std::vector<std::vector<uint8_t>> frames(n, std::vector<uint8_t>(size_t(in_h * in_w * 3)));
  std::vector<const uint8_t*> ptrs;
  std::vector<model::FrameView> views;
  for (int i = 0; i < n; ++i) {
    test::Lcg r(uint64_t(100 + i));
    for (auto& b : frames[size_t(i)]) b = uint8_t(r.next() & 0xff);
    ptrs.push_back(frames[size_t(i)].data());
    views.push_back({frames[size_t(i)].data(), in_h, in_w});
  }
  const float mean[3] = {0.5f, 0.5f, 0.5f}, stdev[3] = {0.5f, 0.5f, 0.5f};
  cuda::PreprocessConfig pc;
  cuda::FrameStaging staging(pc);
  Value got = staging.run(g, ptrs, in_h, in_w, out_h, out_w);
  const size_t per = size_t(out_h / 16) * size_t(out_w / 16), dim = 3 * 2 * 16 * 16;
  std::vector<float> want(size_t(n) * per * dim);
  model::preprocess_frames(views, out_h, out_w, mean, stdev, want.data(), model::VisionPatchConfig{}, 2);
  CHECK(got->shape == (Shape{int64_t(n * per), int64_t(dim)}));
  CHECK(g.read("patches", got) == want);  // bit-identical
  // The staging is reusable at once: the caller's frames may change after run() returns.
  for (auto& f : frames) std::fill(f.begin(), f.end(), uint8_t(7));
  Value again = staging.run(g, ptrs, in_h, in_w, out_h, out_w);
  const auto v = g.read("again", again);
  CHECK(std::all_of(v.begin(), v.end(), [&](float x) { return x == v[0]; }));
}
TEST(cuda_fused_projections_match_separate_gemms) {
  // bf16 + cuBLASLt: q|k|v and gate|up packed at preload run as one GEMM per group; the members'
  // outputs (views for one row, strided copies for more) equal the separate GEMMs up to the
  // algorithm's summation order.
  REQUIRE_CUDA_DEVICE();
#if ALPAMAYO_HAVE_CUBLASLT
  Tiny t;
  cuda::CudaOptions fused = exact_options(Precision::BF16);
  fused.use_cublaslt = true;
  cuda::CudaOptions apart = fused;
  apart.fuse_projections = false;
  cuda::CudaOps a(test::weight_source(t.weights), fused), b(test::weight_source(t.weights), apart);
  a.preload(model::parameter_specs(t.cfg));
  b.preload(model::parameter_specs(t.cfg));
  const Run ra = run_tiny(t, a, &a), rb = run_tiny(t, b, &b);
  CHECK(a.fused_hits() > 0);
  CHECK_EQ(b.fused_hits(), uint64_t(0));
  CHECK_CLOSE("fused prefill", ra.prefill, rb.prefill, 1e-3);
  CHECK_CLOSE("fused decode", ra.decode, rb.decode, 1e-3);
  CHECK_CLOSE("fused denoise", ra.denoised, rb.denoised, 1e-3);
#else
  SKIP("built without cuBLASLt headers");
#endif
}
#endif
