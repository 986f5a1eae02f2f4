#include "export/export_reference.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
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

// The cache rows [0, len) of every backbone layer as past_* or present_* tensors.
void append_cache(cpu::CpuOps& cpu, const model::ModelConfig& cfg, int64_t layers, int64_t len, const char* prefix,
                  std::vector<std::pair<std::string, Tensor>>& out) {
  const Shape shape{len, cfg.text.num_kv_heads, cfg.text.head_dim};
  for (int64_t l = 0; l < layers; ++l) {
    std::vector<float> k, v;
    if (len > 0) {
      auto [kv, vv] = cpu.kv_read(l, len);
      k = cpu::CpuOps::values(kv);
      v = cpu::CpuOps::values(vv);
    }
    out.emplace_back(std::string(prefix) + "key." + std::to_string(l), f32(shape, k));
    out.emplace_back(std::string(prefix) + "value." + std::to_string(l), f32(shape, v));
  }
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
void add_real_shape_cases(cpu::CpuOps& cpu, const model::ModelConfig& cfg, CaseWriter& cases, int frames) {
  require(frames >= 1 && frames <= 16, ErrorCode::InvalidInput,
          "export reference: prefill frames must be 1..16, got " + std::to_string(frames));
  constexpr int64_t kLayoutText = 3300 - 16 * 182, kPast = 3600;
  const model::ImageGrid grid{1, 20, 36};
  const int64_t L = cfg.text.num_layers, hid = cfg.text.hidden_size;
  const int64_t rows = grid.patches() / cfg.vision.merge_unit(), ds = static_cast<int64_t>(cfg.vision.deepstack_visual_indexes.size());
  const int64_t prompt = kLayoutText + frames * (rows + 2);
  model::reserve_kv_cache(cpu, cfg, kPast + 1);

  const SampleScene one = sample_scene(cfg, grid, 4, 0x7EA15EEDu);
  RecordingOps vis(cpu);
  const ImageFeatures frame = vision_graph(vis, cfg, one.pixels, grid);
  cases.add("vision_720", "vision.onnx", vis.inputs, vis.outputs);

  // The frames' rows (the frame's features, varied per frame so a misplaced row shows).
  ImageFeatures img;
  img.rows = frames * rows;
  img.embeds.resize(static_cast<size_t>(img.rows * hid));
  img.deepstack.resize(static_cast<size_t>(ds * img.rows * hid));
  for (int f = 0; f < frames; ++f) {
    const float k = 1.0f - 0.03f * static_cast<float>(f);
    for (int64_t i = 0; i < rows * hid; ++i) img.embeds[static_cast<size_t>(f * rows * hid + i)] = k * frame.embeds[static_cast<size_t>(i)];
    for (int64_t j = 0; j < ds; ++j)
      for (int64_t i = 0; i < rows * hid; ++i)
        img.deepstack[static_cast<size_t>((j * img.rows + f * rows) * hid + i)] = k * frame.deepstack[static_cast<size_t>(j * rows * hid + i)];
  }
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < kLayoutText / 2; ++i) ids.push_back(32 + (i * 37) % 200);
  for (int f = 0; f < frames; ++f) {
    ids.push_back(cfg.vision_start_token_id);
    ids.insert(ids.end(), static_cast<size_t>(rows), cfg.image_token_id);
    ids.push_back(cfg.vision_end_token_id);
  }
  while (static_cast<int64_t>(ids.size()) < prompt) ids.push_back(32 + (static_cast<int64_t>(ids.size()) * 53) % 200);
  const std::vector<model::ImageGrid> grids(static_cast<size_t>(frames), grid);
  const model::RopeIndex ri = model::rope_index(cfg, ids, grids);

  RecordingOps pre(cpu);
  append_cache(cpu, cfg, L, 0, "past_", pre.inputs);
  llm_graph(pre, cfg, ids, 0, ri.pos, &img);
  append_cache(cpu, cfg, L, prompt, "present_", pre.outputs);
  cases.add("prefill_" + std::to_string(prompt), "llm.onnx", pre.inputs, pre.outputs);

  extend_cache(cpu, cfg, prompt, kPast);
  RecordingOps dec(cpu);
  append_cache(cpu, cfg, L, kPast, "past_", dec.inputs);
  dec.inputs.emplace_back(N::kImageEmbeds, Tensor(DType::F32, {0, hid}));
  if (ds > 0) dec.inputs.emplace_back(N::kDeepstackEmbeds, Tensor(DType::F32, {ds, 0, hid}));
  dec.inputs.emplace_back("image_positions", Tensor(DType::I64, {0}));
  const int64_t next[1] = {77};
  llm_graph(dec, cfg, next, kPast, model::MropePositions::uniform(kPast + ri.rope_delta, 1), nullptr);
  append_cache(cpu, cfg, L, kPast + 1, "present_", dec.outputs);
  cases.add("decode_3600", "llm.onnx", dec.inputs, dec.outputs);

  for (const int64_t prefix : {int64_t{1}, kPast}) {
    RecordingOps ex(cpu);
    append_cache(cpu, cfg, cfg.expert.num_layers, prefix, "past_", ex.inputs);
    expert_graph(ex, cfg, one.noise, 0.7f, prefix, ri.rope_delta);
    cases.add("expert_prefix" + std::to_string(prefix), "expert_step.onnx", ex.inputs, ex.outputs);
  }
}

}  // namespace

void write_export_reference(const model::ModelConfig& cfg, const model::WeightSource& weights, Precision precision,
                            const std::string& dir, const ReferenceOptions& options) {
  cpu::CpuOps cpu(weights, cpu::CpuOptions{precision, 0});
  CaseWriter cases(dir);
  if (!options.trace_cases) {
    add_real_shape_cases(cpu, cfg, cases, options.prefill_frames);
    cases.save(std::string(precision_name(precision)));
    return;
  }
  // A grid and prompt length unlike the trace sizes, so the dynamic axes are exercised.
  const SampleScene s = sample_scene(cfg, {1, 4, 8}, 10, 0x5EED5EEDu);
  const int64_t n = static_cast<int64_t>(s.ids.size());
  model::reserve_kv_cache(cpu, cfg, n + 8);
  const int64_t L = cfg.text.num_layers;

  RecordingOps vis(cpu);
  const ImageFeatures img = vision_graph(vis, cfg, s.pixels, s.grid);
  cases.add("vision", "vision.onnx", vis.inputs, vis.outputs);

  RecordingOps pre(cpu);
  append_cache(cpu, cfg, L, 0, "past_", pre.inputs);
  llm_graph(pre, cfg, s.ids, 0, s.rope.pos, &img);
  append_cache(cpu, cfg, L, n, "present_", pre.outputs);
  cases.add("prefill", "llm.onnx", pre.inputs, pre.outputs);

  // A decode step carries no image rows: the graph's image inputs get zero rows.
  RecordingOps dec(cpu);
  append_cache(cpu, cfg, L, n, "past_", dec.inputs);
  const int64_t hid = cfg.text.hidden_size, ds = static_cast<int64_t>(cfg.vision.deepstack_visual_indexes.size());
  dec.inputs.emplace_back(N::kImageEmbeds, Tensor(DType::F32, {0, hid}));
  if (ds > 0) dec.inputs.emplace_back(N::kDeepstackEmbeds, Tensor(DType::F32, {ds, 0, hid}));
  dec.inputs.emplace_back("image_positions", Tensor(DType::I64, {0}));
  const int64_t next[1] = {s.ids[2]};
  llm_graph(dec, cfg, next, n, model::MropePositions::uniform(n + s.rope.rope_delta, 1), nullptr);
  append_cache(cpu, cfg, L, n + 1, "present_", dec.outputs);
  cases.add("decode", "llm.onnx", dec.inputs, dec.outputs);

  RecordingOps ex(cpu);
  append_cache(cpu, cfg, cfg.expert.num_layers, n + 1, "past_", ex.inputs);
  expert_graph(ex, cfg, s.noise, 0.3f, n + 1, s.rope.rope_delta);
  cases.add("expert_step", "expert_step.onnx", ex.inputs, ex.outputs);

  if (options.real_shapes) add_real_shape_cases(cpu, cfg, cases, options.prefill_frames);
  cases.save(std::string(precision_name(precision)));
}

}  // namespace alp::exporter
