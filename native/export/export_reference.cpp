#include "export/export_reference.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <span>
#include <fstream>
#include <map>
#include <utility>
#include <vector>

#include "core/engine_manifest.hpp"
#include "core/error.hpp"
#include "core/json.hpp"
#include "export/export_graphs.hpp"
#include "export/forwarding_ops.hpp"
#include "export/npy_writer.hpp"
#include "export/sample_scene.hpp"
#include "model/backbone.hpp"
#include "model/expert.hpp"

namespace alp::exporter {

namespace {

namespace fs = std::filesystem;
namespace N = engine::names;

Tensor f32(const Shape& shape, std::span<const float> data) {
  Tensor t(DType::F32, shape);
  std::copy(data.begin(), data.end(), t.mutable_as<float>());
  return t;
}

// Keeps a copy of every graph input and output of the calls it forwards.
class RecordingOps final : public ForwardingOps {
 public:
  using ForwardingOps::ForwardingOps;
  std::vector<std::pair<std::string, Tensor>> inputs, outputs;

  std::vector<float> read(std::string_view n, const model::Value& v) override {
    std::vector<float> h = ForwardingOps::read(n, v);
    outputs.emplace_back(std::string(n), f32(v->shape, h));
    return h;
  }

 private:
  model::Value input_impl(std::string_view n, Shape s, std::span<const float> d) override {
    inputs.emplace_back(std::string(n), f32(s, d));
    return ForwardingOps::input_impl(n, std::move(s), d);
  }
  model::Value input_index_impl(std::string_view n, Shape s, std::span<const int64_t> d) override {
    Tensor t(DType::I64, s);
    std::copy(d.begin(), d.end(), t.mutable_as<int64_t>());
    inputs.emplace_back(std::string(n), std::move(t));
    return ForwardingOps::input_index_impl(n, std::move(s), d);
  }
};

class CaseWriter {
 public:
  explicit CaseWriter(std::string dir) : dir_(std::move(dir)) {}

  void add(const std::string& name, const std::string& model, const std::vector<std::pair<std::string, Tensor>>& in,
           const std::vector<std::pair<std::string, Tensor>>& out) {
    fs::create_directories(fs::path(dir_) / name);
    json::Object c{{"name", name}, {"model", model}, {"inputs", files(name, in)}, {"outputs", files(name, out)}};
    cases_.emplace_back(std::move(c));
  }
  void save(const std::string& precision) {
    std::ofstream f(fs::path(dir_) / "cases.json");
    f << json::stringify(json::Object{{"precision", precision}, {"cases", cases_}}, 1) << "\n";
    require(f.good(), ErrorCode::InvalidInput, "write_export_reference: cannot write " + dir_ + "/cases.json");
  }

 private:
  json::Object files(const std::string& name, const std::vector<std::pair<std::string, Tensor>>& ts) {
    json::Object o;
    for (const auto& [k, t] : ts) {
      const std::string rel = name + "/" + k + ".npy";
      write_npy((fs::path(dir_) / rel).string(), t);
      o[k] = rel;
    }
    return o;
  }
  std::string dir_;
  json::Array cases_;
};

// Every lane's cache as the graphs bind it: past_/present_ key/value.<l> [lanes, Hkv, capacity, D],
// lane b holding the CPU executor's rows [0, lens[b]) (kv_read of that lane) and, past them, a fixed
// finite pattern: the stale rows of an earlier sequence, which the graph must mask (and keep).
void append_cache(cpu::CpuOps& cpu, const model::ModelConfig& cfg, int64_t layers, std::span<const int64_t> lens,
                  int64_t capacity, const char* prefix, std::vector<std::pair<std::string, Tensor>>& out) {
  const int64_t lanes = static_cast<int64_t>(lens.size()), hkv = cfg.text.num_kv_heads, d = cfg.text.head_dim;
  const Shape shape{lanes, hkv, capacity, d};
  for (int64_t l = 0; l < layers; ++l) {
    Tensor k(DType::F32, shape), v(DType::F32, shape);
    float* kp = k.mutable_as<float>();
    float* vp = v.mutable_as<float>();
    for (int64_t i = 0; i < shape_numel(shape); ++i) {
      kp[i] = 0.5f * std::sin(0.37f * static_cast<float>(i % 4099));
      vp[i] = 0.5f * std::cos(0.23f * static_cast<float>(i % 4093));
    }
    for (int64_t b = 0; b < lanes; ++b) {
      const int64_t len = lens[static_cast<size_t>(b)];
      if (len == 0) continue;
      auto [kv, vv] = cpu.kv_read(l, len, b);
      const std::vector<float> kr = cpu::CpuOps::values(kv), vr = cpu::CpuOps::values(vv);
      for (int64_t t = 0; t < len; ++t)
        for (int64_t h = 0; h < hkv; ++h)
          for (int64_t j = 0; j < d; ++j) {
            const size_t dst = static_cast<size_t>(((b * hkv + h) * capacity + t) * d + j);
            const size_t src = static_cast<size_t>((t * hkv + h) * d + j);
            kp[dst] = kr[src];
            vp[dst] = vr[src];
          }
    }
    out.emplace_back(std::string(prefix) + "key." + std::to_string(l), std::move(k));
    out.emplace_back(std::string(prefix) + "value." + std::to_string(l), std::move(v));
  }
}

Tensor i64(std::span<const int64_t> v) {
  Tensor t(DType::I64, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.mutable_as<int64_t>());
  return t;
}

// A decode step carries no image rows: the graph's image inputs get zero rows.
void no_images(const model::ModelConfig& cfg, std::vector<std::pair<std::string, Tensor>>& in) {
  const int64_t hid = cfg.text.hidden_size, ds = static_cast<int64_t>(cfg.vision.deepstack_visual_indexes.size());
  in.emplace_back(N::kImageEmbeds, Tensor(DType::F32, {0, hid}));
  if (ds > 0) in.emplace_back(N::kDeepstackEmbeds, Tensor(DType::F32, {ds, 0, hid}));
  in.emplace_back(N::kImagePositions, Tensor(DType::I64, {0}));
}

// Logits of one lane as the graph returns them: [lanes = 1, vocab].
std::vector<std::pair<std::string, Tensor>> one_lane(std::vector<std::pair<std::string, Tensor>> out) {
  for (auto& [name, t] : out)
    if (name == N::kLogits) t = Tensor::from_f32({1, t.numel()}, std::span<const float>(t.as<float>(), static_cast<size_t>(t.numel())));
  return out;
}

// One llm call of one sequence at cache rows [pos, pos + ids): past/present caches at `capacity`.
void add_llm_case(CaseWriter& cases, cpu::CpuOps& cpu, const model::ModelConfig& cfg, const std::string& name,
                  std::span<const int64_t> ids, int64_t pos, const model::MropePositions& rope, const ImageFeatures* img,
                  int64_t capacity) {
  const int64_t L = cfg.text.num_layers, n = static_cast<int64_t>(ids.size());
  RecordingOps rec(cpu);
  const int64_t past[1] = {pos}, present[1] = {pos + n};
  append_cache(cpu, cfg, L, past, capacity, "past_", rec.inputs);
  rec.inputs.emplace_back(N::kKvWriteIndex, i64(past));
  if (!img) no_images(cfg, rec.inputs);
  llm_graph(rec, cfg, ids, pos, rope, img);
  append_cache(cpu, cfg, L, present, capacity, "present_", rec.outputs);
  cases.add(name, "llm.onnx", rec.inputs, one_lane(rec.outputs));
}

// One batched vision call of `images` frames of `grid` (frame i: `pixels` scaled and shifted by i, so
// a swapped or misplaced image shows). Inputs are what the batched call binds; the expected outputs
// are the CPU executor's per-image runs laid out image after image, so the batched graph is checked
// against the one-image network, not against itself. Returns frame 0's features.
ImageFeatures add_vision_case(CaseWriter& cases, cpu::CpuOps& cpu, const model::ModelConfig& cfg, const std::string& name,
                              std::span<const float> pixels, const model::ImageGrid& grid, int64_t images) {
  const int64_t hid = cfg.text.hidden_size, ds = static_cast<int64_t>(cfg.vision.deepstack_visual_indexes.size());
  const int64_t rows = grid.patches() / cfg.vision.merge_unit();
  std::vector<float> all;
  std::vector<ImageFeatures> per;
  for (int64_t i = 0; i < images; ++i) {
    std::vector<float> px(pixels.begin(), pixels.end());
    for (float& x : px) x = x * (1.0f - 0.05f * static_cast<float>(i)) + 0.02f * static_cast<float>(i);
    all.insert(all.end(), px.begin(), px.end());
    per.push_back(vision_graph(cpu, cfg, px, grid));
  }
  RecordingOps rec(cpu);
  (void)vision_graph(rec, cfg, all, grid, images);
  std::vector<float> embeds, deep(static_cast<size_t>(ds * images * rows * hid));
  for (int64_t i = 0; i < images; ++i) {
    const ImageFeatures& f = per[static_cast<size_t>(i)];
    embeds.insert(embeds.end(), f.embeds.begin(), f.embeds.end());
    for (int64_t j = 0; j < ds; ++j)
      std::copy_n(f.deepstack.begin() + j * rows * hid, rows * hid, deep.begin() + (j * images + i) * rows * hid);
  }
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [n, t] : rec.outputs) {
    const bool is_embeds = n == N::kImageEmbeds;
    require(is_embeds || n == N::kDeepstackEmbeds, ErrorCode::Internal, "vision case: unexpected output " + n);
    const std::vector<float>& ref = is_embeds ? embeds : deep;
    require(t.numel() == static_cast<int64_t>(ref.size()), ErrorCode::Internal, "vision case: output " + n + " size");
    out.emplace_back(n, f32(t.shape(), ref));
  }
  cases.add(name, "vision.onnx", rec.inputs, out);
  return per.front();
}

// Extends every layer's cache from `len` to `to` rows with copies of rows [0, len), each pass scaled
// by 0.97 so no two rows repeat exactly: decode and the expert then read a cache of the real length
// with the prompt's statistics, without the CPU executor generating thousands of tokens to fill it.
void extend_cache(cpu::CpuOps& cpu, const model::ModelConfig& cfg, int64_t len, int64_t to) {
  const int64_t row = cfg.text.num_kv_heads * cfg.text.head_dim;
  for (int64_t l = 0; l < cfg.text.num_layers; ++l) {
    auto [kv, vv] = cpu.kv_read(l, len);
    const std::vector<float> k = cpu::CpuOps::values(kv), v = cpu::CpuOps::values(vv);
    for (int64_t at = len; at < to;) {
      const int64_t n = std::min(len, to - at);
      const float s = std::pow(0.97f, static_cast<float>(at / len));
      std::vector<float> kn(k.begin(), k.begin() + n * row), vn(v.begin(), v.begin() + n * row);
      for (float& x : kn) x *= s;
      for (float& x : vn) x *= s;
      const Shape shape{n, cfg.text.num_kv_heads, cfg.text.head_dim};
      cpu.kv_write(l, at, cpu.input("kv_fill_k", shape, kn), cpu.input("kv_fill_v", shape, vn));
      at += n;
    }
  }
}

// The planner's real sequence shapes at the checkpoint's layer dims: one 720-patch frame (20 x 36
// patches, 180 image tokens), a prefill of the planner layout (16 such frames: 3,300 tokens with 2,880
// image rows) from an empty cache, a decode step over 3,600 cached rows without image rows, and
// expert steps over prefixes of 1 and 3,600 rows.
void add_real_shape_cases(cpu::CpuOps& cpu, const model::ModelConfig& cfg, CaseWriter& cases, int64_t cap, int frames) {
  require(frames >= 1 && frames <= 16, ErrorCode::InvalidInput,
          "export reference: prefill frames must be 1..16, got " + std::to_string(frames));
  constexpr int64_t kLayoutText = 3300 - 16 * 182, kPast = 3600;
  const int kFrames = frames;
  const model::ImageGrid grid{1, 20, 36};
  const int64_t hid = cfg.text.hidden_size;
  const int64_t rows = grid.patches() / cfg.vision.merge_unit(), ds = static_cast<int64_t>(cfg.vision.deepstack_visual_indexes.size());
  const int64_t kPrompt = kLayoutText + kFrames * (rows + 2);
  model::reserve_kv_cache(cpu, cfg, kPast + 1);

  const SampleScene one = sample_scene(cfg, grid, 4, 0x7EA15EEDu);
  // All the frames in one batched vision call ("vision_720" for one frame, "vision_16x720" for 16).
  const std::string vision_name = kFrames == 1 ? "vision_720" : "vision_" + std::to_string(kFrames) + "x720";
  const ImageFeatures frame = add_vision_case(cases, cpu, cfg, vision_name, one.pixels, grid, kFrames);

  // The frames' rows (the frame's features, varied per frame so a misplaced row shows).
  ImageFeatures img;
  img.rows = kFrames * rows;
  img.embeds.resize(static_cast<size_t>(img.rows * hid));
  img.deepstack.resize(static_cast<size_t>(ds * img.rows * hid));
  for (int f = 0; f < kFrames; ++f) {
    const float k = 1.0f - 0.03f * static_cast<float>(f);
    for (int64_t i = 0; i < rows * hid; ++i) img.embeds[static_cast<size_t>(f * rows * hid + i)] = k * frame.embeds[static_cast<size_t>(i)];
    for (int64_t j = 0; j < ds; ++j)
      for (int64_t i = 0; i < rows * hid; ++i)
        img.deepstack[static_cast<size_t>((j * img.rows + f * rows) * hid + i)] = k * frame.deepstack[static_cast<size_t>(j * rows * hid + i)];
  }
  std::vector<int64_t> ids;
  const int64_t text = kPrompt - kFrames * (rows + 2);
  for (int64_t i = 0; i < text / 2; ++i) ids.push_back(32 + (i * 37) % 200);
  for (int f = 0; f < kFrames; ++f) {
    ids.push_back(cfg.vision_start_token_id);
    ids.insert(ids.end(), static_cast<size_t>(rows), cfg.image_token_id);
    ids.push_back(cfg.vision_end_token_id);
  }
  while (static_cast<int64_t>(ids.size()) < kPrompt) ids.push_back(32 + (static_cast<int64_t>(ids.size()) * 53) % 200);
  const std::vector<model::ImageGrid> grids(static_cast<size_t>(kFrames), grid);
  const model::RopeIndex ri = model::rope_index(cfg, ids, grids);

  require(cap >= kPast + 1 + cfg.action_space.n_waypoints, ErrorCode::InvalidInput,
          "reference cases: KV capacity " + std::to_string(cap) + ", the real-shape cases need " +
              std::to_string(kPast + 1 + cfg.action_space.n_waypoints) + " rows (--profile kv_capacity)");
  add_llm_case(cases, cpu, cfg, "prefill_" + std::to_string(kPrompt), ids, 0, ri.pos, &img, cap);
  extend_cache(cpu, cfg, kPrompt, kPast);

  const int64_t next[1] = {77};
  add_llm_case(cases, cpu, cfg, "decode_3600", next, kPast, model::MropePositions::uniform(kPast + ri.rope_delta, 1), nullptr, cap);

  for (const int64_t prefix : {int64_t{1}, kPast}) {
    RecordingOps ex(cpu);
    const int64_t lens[1] = {prefix};
    append_cache(cpu, cfg, cfg.expert.num_layers, lens, cap, "past_", ex.inputs);
    ex.inputs.emplace_back(N::kKvWriteIndex, i64(lens));
    expert_graph(ex, cfg, one.noise, 0.7f, prefix, ri.rope_delta);
    cases.add("expert_prefix" + std::to_string(prefix), "expert_step.onnx", ex.inputs, ex.outputs);
  }
}

}  // namespace

void write_export_reference(const model::ModelConfig& cfg, const model::WeightSource& weights, Precision precision,
                            const std::string& dir, int64_t cap, const ReferenceOptions& options) {
  cpu::CpuOps cpu(weights, cpu::CpuOptions{precision, 0});
  CaseWriter cases(dir);
  if (!options.trace_cases) {
    add_real_shape_cases(cpu, cfg, cases, cap, options.prefill_frames);
    cases.save(std::string(precision_name(precision)));
    return;
  }
  // A grid and prompt length unlike the trace sizes, so the dynamic axes are exercised.
  const SampleScene s = sample_scene(cfg, {1, 4, 8}, 10, 0x5EED5EEDu);
  const int64_t n = static_cast<int64_t>(s.ids.size());
  model::reserve_kv_cache(cpu, cfg, n + 8);
  const int64_t L = cfg.text.num_layers;

  const ImageFeatures img = add_vision_case(cases, cpu, cfg, "vision", s.pixels, s.grid, 1);
  (void)add_vision_case(cases, cpu, cfg, "vision_3", s.pixels, s.grid, 3);

  require(cap >= n + 8 + cfg.action_space.n_waypoints, ErrorCode::InvalidInput,
          "reference cases: KV capacity " + std::to_string(cap) + " below the prompt, 8 reasoning rows and the action rows");
  add_llm_case(cases, cpu, cfg, "prefill", s.ids, 0, s.rope.pos, &img, cap);
  const int64_t next[1] = {s.ids[2]};
  add_llm_case(cases, cpu, cfg, "decode", next, n, model::MropePositions::uniform(n + s.rope.rope_delta, 1), nullptr, cap);

  // Three reasoning lanes after the prompt, each at its own length (0, 2 and 5 private tokens): one
  // decode call advances all three (K = 3 rows) and each reads only its own cache.
  cpu.kv_share(n, 3);
  const int64_t extra[3] = {0, 2, 5};
  for (int64_t b = 1; b < 3; ++b)
    for (int64_t i = 0; i < extra[b]; ++i) {
      const model::LaneToken tok{b, 40 + 7 * i + b, n + i, n + i + s.rope.rope_delta};
      (void)model::decode_lanes(cpu, cfg, std::span<const model::LaneToken>(&tok, 1));
    }
  {
    std::vector<model::LaneToken> toks;
    int64_t lens[3], after[3];
    for (int64_t b = 0; b < 3; ++b) {
      lens[b] = n + extra[b];
      after[b] = lens[b] + 1;
      toks.push_back({b, 50 + 3 * b, lens[b], lens[b] + s.rope.rope_delta});
    }
    RecordingOps rec(cpu);
    append_cache(cpu, cfg, L, lens, cap, "past_", rec.inputs);
    rec.inputs.emplace_back(N::kKvWriteIndex, i64(lens));
    no_images(cfg, rec.inputs);
    rec.read(N::kLogits, model::decode_lanes(rec, cfg, toks));
    append_cache(cpu, cfg, L, after, cap, "present_", rec.outputs);
    cases.add("decode_lanes3", "llm.onnx", rec.inputs, rec.outputs);

    // The expert for the three samples at once, ragged prefixes (each lane's reasoning ended elsewhere).
    const int64_t wp = cfg.action_space.n_waypoints, per = wp * cfg.action_dims;
    std::vector<model::ExpertLane> el;
    std::vector<float> x;
    for (int64_t b = 0; b < 3; ++b) {
      el.push_back({b, after[b], s.rope.rope_delta});
      for (int64_t i = 0; i < per; ++i) x.push_back(s.noise[static_cast<size_t>(i)] * (1.0f - 0.2f * static_cast<float>(b)));
    }
    RecordingOps ex(cpu);
    append_cache(cpu, cfg, cfg.expert.num_layers, after, cap, "past_", ex.inputs);
    ex.inputs.emplace_back(N::kKvWriteIndex, i64(after));
    const float t = 0.3f;
    ex.read(N::kVelocity, model::expert_velocity(ex, cfg, ex.input(N::kX, {3 * wp, cfg.action_dims}, x),
                                                 ex.input(N::kT, {1, 1}, std::span<const float>(&t, 1)), el));
    cases.add("expert_lanes3", "expert_step.onnx", ex.inputs, ex.outputs);
  }
  // One sample over lane 0's prefix (the decode above left lane 0 at n + 1 rows).
  {
    RecordingOps ex(cpu);
    const int64_t lens[1] = {n + 1};
    append_cache(cpu, cfg, cfg.expert.num_layers, lens, cap, "past_", ex.inputs);
    ex.inputs.emplace_back(N::kKvWriteIndex, i64(lens));
    expert_graph(ex, cfg, s.noise, 0.3f, n + 1, s.rope.rope_delta);
    cases.add("expert_step", "expert_step.onnx", ex.inputs, ex.outputs);
  }

  if (options.real_shapes) {
    cpu.kv_share(0, 1);
    add_real_shape_cases(cpu, cfg, cases, cap, options.prefill_frames);
  }
  cases.save(std::string(precision_name(precision)));
}

}  // namespace alp::exporter
