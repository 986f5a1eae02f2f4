// Real-shape CUDA benchmark without the 20 GB checkpoint: the release architecture (Qwen3-VL-8B
// backbone, 2048-wide expert, 320x576 frames) with deterministic pseudo-random weights, run through
// the same model code and CudaOps as a plan. Each stage is timed with the network cut to 1 and to 2
// layers; the difference is one layer, so a full stage = t(1) + (layers - 1) * (t(2) - t(1)).
// Then the single GEMM and attention calls at those shapes, with achieved TFLOP/s and GB/s against
// the H200's datasheet peaks. Writes JSON (--json FILE) and a markdown table (--md FILE).
//
//   alpamayo_cuda_bench [--json FILE] [--md FILE] [--precisions bf16,fp8] [--quick]
//
// Without a CUDA device it prints why and exits 2 (the GPU check treats that as "no GPU").
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backends/cuda/cuda_denoise.hpp"
#include "backends/cuda/cuda_ops.hpp"
#include "backends/cuda/device.hpp"
#include "core/dtype.hpp"
#include "core/json.hpp"
#include "model/backbone.hpp"
#include "model/config.hpp"
#include "model/expert.hpp"
#include "model/param_specs.hpp"
#include "model/rope_tables.hpp"
#include "model/vision.hpp"

using namespace alp;
using model::Value;

namespace {

// H200 SXM datasheet (dense): the targets of issue 16 are stated against these.
constexpr double kPeakBf16Tflops = 990.0, kPeakFp8Tflops = 1980.0, kPeakHbmGbs = 4800.0;

// Release shapes (docs/model-spec.md): 16 frames of 320x576 -> 20x36 patches each, 180 LLM tokens per
// image, ~3.3k prompt tokens; 20 reasoning tokens; 10 Euler steps; one sample.
constexpr int kImages = 16, kGridH = 20, kGridW = 36, kPromptTokens = 3300, kDecodeTokens = 20, kSteps = 10;

model::ModelConfig release_config(int layers) {
  const char* cfg = R"({"vocab_size": 155697, "traj_vocab_size": 4000, "traj_token_start_idx": 151669,
    "expert_cfg": {"head_dim": 128, "hidden_size": 2048, "intermediate_size": 8256, "num_attention_heads": 16},
    "action_in_proj_cfg": {"hidden_size": 512, "num_enc_layers": 2}})";
  model::ModelConfig c = model::parse_model_config(json::parse(cfg));
  if (layers > 0) {
    c.text.num_layers = c.expert.num_layers = c.vision.depth = layers;
    c.vision.deepstack_visual_indexes.clear();  // 3 small mergers in the release; not per layer
  }
  return c;
}

// bf16 weights, uniform in +-1/sqrt(fan_in) (norm weights 1, biases 0), made once per name and kept so
// the 1- and 2-layer networks share them. Filled by all cores: the vocab matrices are 640 M values.
class RandomWeights {
 public:
  Tensor get(std::string_view name, const Shape& shape) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = cache_.find(name); it != cache_.end()) return it->second;
    Tensor t(DType::BF16, shape);
    const int64_t n = shape_numel(shape);
    auto* p = t.mutable_as<uint16_t>();
    const bool matrix = shape.size() >= 2;
    const bool norm = !matrix && name.find("norm") != std::string_view::npos;
    const float amp = matrix ? 1.0f / std::sqrt(float(shape.back())) : 0.0f;
    const uint64_t salt = std::hash<std::string_view>{}(name);
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    for (unsigned w = 0; w < threads; ++w)
      pool.emplace_back([=] {
        for (int64_t i = w; i < n; i += threads) {
          uint64_t z = (uint64_t(i) + salt) * 0x9E3779B97F4A7C15ull;
          z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
          const float u = float((z >> 40) & 0xFFFFFF) / 16777216.0f * 2.f - 1.f;
          p[i] = f32_to_bf16(norm ? 1.0f : u * amp);
        }
      });
    for (auto& th : pool) th.join();
    return cache_.emplace(std::string(name), t).first->second;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Tensor, std::less<>> cache_;
};

struct Timer {
  cudaStream_t s;
  cuda::Event a{true}, b{true};
  explicit Timer(cudaStream_t st) : s(st) {}
  template <class F> double ms(int reps, F&& f) {
    a.record(s);
    for (int i = 0; i < reps; ++i) f();
    b.record(s);
    b.synchronize();
    return double(b.elapsed_ms_since(a)) / reps;
  }
};

std::vector<float> pseudo(size_t n, uint64_t seed, float amp = 1.f) {
  std::vector<float> v(n);
  uint64_t s = seed;
  for (float& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = (float((s >> 40) & 0xFFFFFF) / 16777216.0f * 2.f - 1.f) * amp;
  }
  return v;
}

cuda::CudaOptions options_for(const std::string& precision) {
  cuda::CudaOptions o;
  o.precision = parse_precision(precision);
  o.arena_bytes = size_t(1) << 30;
  return o;
}

struct Stages {
  double vit = 0, prefill = 0, decode = 0, expert_step = 0;  // ms: 16 images, 3.3k prompt, per token, per step
};

// Weights by name for a network of any depth up to 2 (shapes from the single parameter list).
model::WeightSource source_for(RandomWeights& rw) {
  auto shapes = std::make_shared<std::map<std::string, Shape, std::less<>>>();
  for (const auto& s : model::parameter_specs(release_config(2))) shapes->emplace(s.name, s.shape);
  return [&rw, shapes](std::string_view n) {
    auto it = shapes->find(n);
    if (it == shapes->end()) fail(ErrorCode::InvalidCheckpoint, "bench: no shape for " + std::string(n));
    return rw.get(n, it->second);
  };
}

std::vector<int64_t> prompt_ids() {
  std::vector<int64_t> ids(kPromptTokens);
  for (int i = 0; i < kPromptTokens; ++i) ids[size_t(i)] = 1000 + (i * 7919) % 140000;  // plain text ids
  return ids;
}

// One plan's stages on a network of cfg's depth: eager vision and prefill (as the executor runs them),
// decode with the host read of the logits per token (as the sampler needs), the denoise loop replayed
// as its captured graph.
Stages run_stages(const model::ModelConfig& cfg, const std::string& precision, RandomWeights& rw, int reps) {
  cuda::CudaOps ops(source_for(rw), options_for(precision));
  ops.preload(model::parameter_specs(cfg));
  Timer tm(ops.stream());
  Stages st;
  const int64_t per_image = kGridH * kGridW, rows = int64_t(kImages) * per_image;
  const std::vector<float> px = pseudo(size_t(rows * cfg.vision.patch_dim()), 1);
  std::vector<model::ImageGrid> grids(kImages, model::ImageGrid{1, kGridH, kGridW});
  Value patches = ops.persist(ops.input("patches", {rows, cfg.vision.patch_dim()}, px));
  auto vit = [&] { model::run_vision(ops, cfg, patches, grids); };
  vit();
  st.vit = tm.ms(reps, vit);

  const std::vector<int64_t> ids = prompt_ids();
  const model::RopeIndex ri = model::rope_index(cfg, ids, {});
  model::reserve_kv_cache(ops, cfg, kPromptTokens + kDecodeTokens + 8);
  auto prefill = [&] { model::prefill(ops, cfg, ids, ri.pos, nullptr); };
  prefill();
  st.prefill = tm.ms(reps, prefill);

  int64_t pos = kPromptTokens;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kDecodeTokens; ++i, ++pos)
    ops.read("logits", model::decode(ops, cfg, 1000 + i, pos, pos + ri.rope_delta));  // one host sync per token
  st.decode = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / kDecodeTokens;

  model::ModelConfig c = cfg;
  c.num_inference_steps = kSteps;
  const std::vector<float> noise = pseudo(size_t(c.action_space.n_waypoints * c.action_dims), 2);
  cuda::CudaDenoiser denoiser(ops);
  denoiser.denoise(c, noise, pos, ri.rope_delta);  // warm-up + capture
  const auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) denoiser.denoise(c, noise, pos, ri.rope_delta);
  st.expert_step = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count() / reps / kSteps;
  return st;
}

struct Call {
  std::string stage, what;
  double ms = 0, flops = 0, bytes = 0;
};

// The GEMMs of one layer per stage and the attention calls, each alone, `reps` times back to back.
std::vector<Call> run_calls(const std::string& precision, RandomWeights& rw, int reps) {
  const model::ModelConfig cfg = release_config(1);
  cuda::CudaOps ops(source_for(rw), options_for(precision));
  Timer tm(ops.stream());
  std::vector<Call> out;
  const double wbytes = precision == "fp8" ? 1.0 : precision == "fp32" ? 4.0 : 2.0;
  auto gemm = [&](const std::string& stage, const std::string& name, int64_t m) {
    Value w = ops.weight(name, {});
    const int64_t n = w->shape[0], k = w->shape[1];
    Value x = ops.persist(ops.input("x", {m, k}, pseudo(size_t(m * k), 3)));
    ops.linear(x, w, nullptr);
    const double ms = tm.ms(reps, [&] { ops.linear(x, w, nullptr); });
    const std::string short_name = name.substr(name.find_last_of('.', name.size() - 8) + 1);
    out.push_back({stage, "gemm " + short_name + " m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k), ms,
                   2.0 * double(m) * double(n) * double(k), wbytes * double(n) * double(k) + 4.0 * double(m) * double(k + n)});
  };
  const std::string tl = "vlm.model.language_model.layers.0.", el = "expert.layers.0.", vl = "vlm.model.visual.blocks.0.";
  const int64_t vit_rows = int64_t(kImages) * kGridH * kGridW;
  for (const char* wn : {"attn.qkv.weight", "attn.proj.weight", "mlp.linear_fc1.weight", "mlp.linear_fc2.weight"})
    gemm("vit", vl + wn, vit_rows);
  for (const char* wn : {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.o_proj.weight",
                         "mlp.gate_proj.weight", "mlp.down_proj.weight"}) {
    gemm("prefill", tl + wn, kPromptTokens);
    gemm("decode", tl + wn, 1);
  }
  gemm("decode", "vlm.lm_head.weight", 1);
  for (const char* wn : {"self_attn.q_proj.weight", "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.down_proj.weight"})
    gemm("expert", el + wn, cfg.action_space.n_waypoints);

  // Attention: fp32 q/k/v today (bytes counted as moved).
  auto attn = [&](const std::string& stage, int64_t nq, int64_t nk, int64_t hq, int64_t hkv, int64_t d, bool causal,
                  bool from_cache) {
    Value q = ops.persist(ops.input("q", {nq, hq, d}, pseudo(size_t(nq * hq * d), 4, 0.5f)));
    Value k, v;
    if (from_cache) {
      ops.kv_reserve(1, nk + 8, hkv, d);
      Value kk = ops.input("k", {nk, hkv, d}, pseudo(size_t(nk * hkv * d), 5, 0.5f));
      ops.kv_write(0, 0, kk, kk);
      std::tie(k, v) = ops.kv_read(0, nk);
    } else {
      k = ops.persist(ops.input("k", {nk, hkv, d}, pseudo(size_t(nk * hkv * d), 5, 0.5f)));
      v = k;
    }
    const model::AttentionMask mask = causal ? model::AttentionMask::causal(nk - nq) : model::AttentionMask::none();
    const float scale = 1.0f / std::sqrt(float(d));
    ops.attention(q, k, v, mask, scale);
    const double ms = tm.ms(reps, [&] { ops.attention(q, k, v, mask, scale); });
    const double pairs = causal ? double(nq) * (double(nk) - double(nq) / 2.0) : double(nq) * double(nk);
    out.push_back({stage, "attention q=" + std::to_string(nq) + " kv=" + std::to_string(nk) + " heads=" + std::to_string(hq) + "/" +
                              std::to_string(hkv) + " d=" + std::to_string(d) + (causal ? " causal" : ""),
                   ms, 4.0 * pairs * double(hq) * double(d), 4.0 * double(2 * nq * hq * d + 2 * nk * hkv * d)});
  };
  const auto& t = cfg.text;
  attn("vit", kGridH * kGridW, kGridH * kGridW, cfg.vision.num_heads, cfg.vision.num_heads, cfg.vision.head_dim(), false, false);
  attn("prefill", kPromptTokens, kPromptTokens, t.num_heads, t.num_kv_heads, t.head_dim, true, false);
  attn("decode", 1, kPromptTokens + kDecodeTokens, t.num_heads, t.num_kv_heads, t.head_dim, true, true);
  attn("expert", cfg.action_space.n_waypoints, kPromptTokens + kDecodeTokens + cfg.action_space.n_waypoints,
       cfg.expert.num_heads, cfg.expert.num_kv_heads, cfg.expert.head_dim, false, false);
  return out;
}

std::string fmt(double v, int prec = 2) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(prec);
  o << v;
  return o.str();
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path, md_path, precisions = "bf16,fp8";
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--md" && i + 1 < argc) md_path = argv[++i];
    else if (a == "--precisions" && i + 1 < argc) precisions = argv[++i];
    else if (a == "--quick") quick = true;
    else {
      std::cerr << "usage: alpamayo_cuda_bench [--json FILE] [--md FILE] [--precisions bf16,fp8] [--quick]\n";
      return 64;
    }
  }
  std::string why;
  if (cuda::device_count(&why) <= 0) {
    std::cout << "alpamayo_cuda_bench: no CUDA device (" << (why.empty() ? "0 devices" : why) << "); nothing measured\n";
    return 2;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  const int reps = quick ? 2 : 5;
  const model::ModelConfig full = release_config(0);
  RandomWeights rw;
  std::ostringstream js, md;
  js << "{\"device\": \"" << prop.name << "\", \"sm\": " << prop.major * 10 + prop.minor
     << ", \"peaks\": {\"bf16_tflops\": " << kPeakBf16Tflops << ", \"fp8_tflops\": " << kPeakFp8Tflops
     << ", \"hbm_gbs\": " << kPeakHbmGbs << "}, \"shapes\": {\"images\": " << kImages << ", \"prompt_tokens\": " << kPromptTokens
     << ", \"decode_tokens\": " << kDecodeTokens << ", \"steps\": " << kSteps << "}, \"precisions\": {";
  md << "# CUDA real-shape benchmark (" << prop.name << ")\n\nRandom weights, release shapes; stage = t(1 layer) + (layers - 1) x "
        "(t(2 layers) - t(1 layer)). Targets from issue 16.\n\n";
  bool first_p = true;
  std::stringstream list(precisions);
  for (std::string p; std::getline(list, p, ',');) {
    std::cerr << "bench: " << p << " stages\n";
    const Stages s1 = run_stages(release_config(1), p, rw, reps);
    const Stages s2 = run_stages(release_config(2), p, rw, reps);
    auto stage = [](double a, double b, int64_t layers) { return a + double(layers - 1) * (b - a); };
    const double vit = stage(s1.vit, s2.vit, full.vision.depth);
    const double prefill = stage(s1.prefill, s2.prefill, full.text.num_layers);
    const double decode = stage(s1.decode, s2.decode, full.text.num_layers);
    const double expert = stage(s1.expert_step, s2.expert_step, full.expert.num_layers);
    const double plan = vit + prefill + kDecodeTokens * decode + kSteps * expert;
    std::cerr << "bench: " << p << " calls\n";
    const std::vector<Call> calls = run_calls(p, rw, quick ? 3 : 20);
    js << (first_p ? "" : ", ") << "\"" << p << "\": {\"stages_ms\": {\"vit_16_images\": " << vit << ", \"prefill_3300\": " << prefill
       << ", \"decode_per_token\": " << decode << ", \"expert_step\": " << expert << ", \"plan_20_tokens_10_steps\": " << plan
       << "}, \"per_layer_ms\": {\"vit\": " << s2.vit - s1.vit << ", \"prefill\": " << s2.prefill - s1.prefill
       << ", \"decode\": " << s2.decode - s1.decode << ", \"expert_step\": " << s2.expert_step - s1.expert_step << "}, \"calls\": [";
    const double peak = p == "fp8" ? kPeakFp8Tflops : kPeakBf16Tflops;
    md << "## " << p << "\n\n| stage | ms (extrapolated) | target |\n|---|---:|---|\n"
       << "| ViT, 16 images | " << fmt(vit) << " | <= 15 |\n| prefill, 3.3k tokens | " << fmt(prefill) << " | <= 40 (fp8) |\n"
       << "| decode, per token | " << fmt(decode, 3) << " | <= " << (p == "fp8" ? "2.5" : "4.5") << " |\n"
       << "| expert step | " << fmt(expert, 3) << " | <= 1.5 |\n| plan (20 tokens, 10 steps, K = 1) | " << fmt(plan) << " | <= 130 (fp8) |\n\n"
       << "| stage | call | ms | TFLOP/s | % of " << peak << " | GB/s | % of " << kPeakHbmGbs << " |\n|---|---|---:|---:|---:|---:|---:|\n";
    for (size_t i = 0; i < calls.size(); ++i) {
      const Call& c = calls[i];
      const double tf = c.flops / (c.ms * 1e-3) / 1e12, gb = c.bytes / (c.ms * 1e-3) / 1e9;
      js << (i ? ", " : "") << "{\"stage\": \"" << c.stage << "\", \"call\": \"" << c.what << "\", \"ms\": " << c.ms
         << ", \"tflops\": " << tf << ", \"gbs\": " << gb << "}";
      md << "| " << c.stage << " | " << c.what << " | " << fmt(c.ms, 4) << " | " << fmt(tf, 1) << " | " << fmt(100 * tf / peak, 1)
         << " | " << fmt(gb, 0) << " | " << fmt(100 * gb / kPeakHbmGbs, 1) << " |\n";
    }
    js << "]}";
    md << "\n";
    first_p = false;
  }
  js << "}}\n";
  std::cout << md.str();
  if (!json_path.empty()) std::ofstream(json_path) << js.str();
  if (!md_path.empty()) std::ofstream(md_path) << md.str();
  return 0;
}
