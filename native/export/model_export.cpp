#include "export/model_export.hpp"

#include <filesystem>

#include "core/fp8_scale.hpp"
#include "core/checkpoint.hpp"
#include "core/error.hpp"
#include "export/activation_calibration.hpp"
#include "export/export_graphs.hpp"
#include "export/export_reference.hpp"
#include "export/sample_scene.hpp"
#include "export/weight_encoding.hpp"
#include "model/backbone.hpp"
#include "model/buffers.hpp"
#include "model/config.hpp"
#include "model/preprocess.hpp"

namespace alp::exporter {

namespace {

namespace fs = std::filesystem;
namespace N = engine::names;
using Dyn = std::map<std::string, std::vector<std::string>>;

// Trace sizes: >= 2, distinct from each other and from their sums and from every fixed dim of the
// model presets and the 8B release (see native/export/README.md, "Dynamic dims").
constexpr model::ImageGrid kTraceGrid{1, 6, 14};  // 84 patches -> 21 image tokens
constexpr int64_t kTraceText = 14;                // 14 + 2 + 21 = 37 tokens
constexpr int64_t kTracePast = 13;  // the write index (cached rows) of the llm and expert traces
constexpr int64_t kTraceImages = 3;  // frames in the vision trace (its leading image axis)

const char* dtype_of(onnx::ElemType t) {
  switch (t) {
    case onnx::ElemType::Float: return "float32";
    case onnx::ElemType::Int64: return "int64";
    case onnx::ElemType::Int32: return "int32";
    case onnx::ElemType::Float16: return "float16";
    case onnx::ElemType::BFloat16: return "bfloat16";
    default: fail(ErrorCode::Internal, "export: graph I/O of element type " + std::to_string(static_cast<int>(t)));
  }
}

struct Traced {
  engine::EngineSpec spec;
  std::map<std::string, std::vector<std::string>> dims;  // I/O name -> per-axis symbol ("" fixed)
};

Traced describe(const OnnxOps& ops, const std::string& name, Precision precision) {
  Traced t;
  // Every weight is external data in the graph's own types: what the plan will hold besides kernels.
  const std::string data = ops.graph().path() + ".data";
  if (fs::exists(data)) t.spec.weight_bytes = static_cast<uint64_t>(fs::file_size(data));
  t.spec.name = name;
  t.spec.file = name + ".engine";
  t.spec.precision = precision_name(precision);
  t.spec.onnx = name + ".onnx";
  t.spec.built = false;
  auto add = [&](const onnx::ValueInfo& v, engine::TensorMode mode) {
    engine::IoTensorSpec io{v.name, mode, dtype_of(v.type), {}};
    std::vector<std::string> syms;
    for (const auto& d : v.dims) {
      io.shape.push_back(d.param.empty() ? d.value : -1);
      syms.push_back(d.param);
    }
    t.dims[v.name] = syms;
    t.spec.io.push_back(std::move(io));
  };
  for (const auto& v : ops.graph().graph().inputs) add(v, engine::TensorMode::Input);
  for (const auto& v : ops.graph().graph().outputs) add(v, engine::TensorMode::Output);
  return t;
}

// One profile: every dynamic input axis takes its symbol's range; `fixed` pins symbols (decode).
engine::OptimizationProfile profile(const Traced& t, const std::string& name, const std::map<std::string, DimRange>& ranges,
                                    const std::map<std::string, DimRange>& fixed = {}) {
  engine::OptimizationProfile p{name, {}};
  for (const auto& io : t.spec.io) {
    if (io.mode != engine::TensorMode::Input) continue;
    const auto& syms = t.dims.at(io.name);
    bool dynamic = false;
    engine::ProfileRange r{io.shape, io.shape, io.shape};
    for (size_t i = 0; i < syms.size(); ++i) {
      if (syms[i].empty()) continue;
      auto f = fixed.find(syms[i]);
      auto it = f != fixed.end() ? f : ranges.find(syms[i]);
      require(it != (f != fixed.end() ? fixed.end() : ranges.end()), ErrorCode::InvalidInput,
              "export: no profile range for dynamic dim '" + syms[i] + "' of " + t.spec.name + " input " + io.name +
                  " (pass --profile " + syms[i] + "=min:opt:max)");
      r.min[i] = it->second.min, r.opt[i] = it->second.opt, r.max[i] = it->second.max;
      dynamic = true;
    }
    if (dynamic) p.inputs.emplace(io.name, r);
  }
  return p;
}

void note(const ModelExportOptions& o, const std::string& m) {
  if (o.progress) o.progress(m);
}

OnnxExportOptions graph_options(const std::string& path, const std::string& name, Precision precision,
                                const ModelExportOptions& o, const std::map<std::string, float>& amax, Dyn dyn) {
  OnnxExportOptions g;
  g.path = path;
  g.graph_name = name;
  g.opset = o.opset;
  g.precision = precision;
  g.dynamic_dims = std::move(dyn);
  g.activation_amax = amax;
  return g;
}

void add_fp8_scales(engine::EngineSpec& spec, const OnnxOps& ops, const std::map<std::string, float>& amax) {
  const onnx::ElemType ct = compute_type(Precision::FP8);
  for (const std::string& w : ops.linear_weight_names()) {
    if (keeps_high_precision(w)) continue;
    if (auto it = amax.find(w); it != amax.end()) spec.fp8_scales[w + ":input"] = scale_in(fp8_e4m3_scale(it->second), ct);
  }
}

}  // namespace

PlannerLayout planner_layout(const model::ModelConfig& cfg) {
  const auto& v = cfg.vision;
  const int factor = static_cast<int>(v.patch_size * v.spatial_merge_size);
  const model::ImageSize img = model::smart_resize(kLayoutCameraHeight, kLayoutCameraWidth, factor, cfg.min_pixels, cfg.max_pixels);
  PlannerLayout l;
  l.patches_per_image = (img.height / v.patch_size) * (img.width / v.patch_size);
  l.image_tokens = kLayoutImages * l.patches_per_image / v.merge_unit();
  l.prompt_opt = l.image_tokens + kLayoutPromptText;
  l.prompt_max = l.image_tokens + kLayoutPromptTextMax;
  l.reasoning = kLayoutReasoning;
  return l;
}

std::map<std::string, DimRange> planner_dim_ranges(const model::ModelConfig& cfg) {
  const PlannerLayout l = planner_layout(cfg);
  // Each lane's cache holds the prompt, the reasoning tokens, the trajectory-start token and the
  // expert's action rows, written past the prefix.
  const int64_t capacity = l.prompt_max + l.reasoning + 1 + cfg.action_space.n_waypoints;
  return {{"images", {1, kLayoutImages, kLayoutImages}},
          {"patches", {l.patches_per_image, l.patches_per_image, l.patches_per_image}},
          {"image_tokens", {0, l.image_tokens, l.image_tokens}},
          {"seq", {1, l.prompt_opt, l.prompt_max}},
          {"lanes", {1, 1, kLayoutMaxSamples}},
          {"kv_capacity", {capacity, capacity, capacity}}};
}

std::pair<std::string, DimRange> parse_dim_range(const std::string& text) {
  const auto eq = text.find('=');
  DimRange r;
  char tail = 0;
  if (eq == std::string::npos || eq == 0 ||
      std::sscanf(text.c_str() + eq + 1, "%ld:%ld:%ld%c", &r.min, &r.opt, &r.max, &tail) != 3 || r.min < 0 ||
      r.min > r.opt || r.opt > r.max)
    fail(ErrorCode::InvalidInput, "--profile '" + text + "': expected name=min:opt:max with 0 <= min <= opt <= max");
  return {text.substr(0, eq), r};
}

ModelExportResult export_models(const std::string& checkpoint_dir, const std::string& out_dir, Precision precision,
                                const ModelExportOptions& o) {
  auto ckpt = Checkpoint::open(checkpoint_dir);
  const model::ModelConfig cfg = model::load_model_config(*ckpt);
  const model::WeightSource weights = model::checkpoint_weights(ckpt);
  fs::create_directories(out_dir);
  auto ranges = planner_dim_ranges(cfg);
  for (const auto& [k, v] : o.dim_ranges) ranges[k] = v;

  std::map<std::string, float> amax;
  if (precision == Precision::FP8 && o.activation_amax) {
    amax = *o.activation_amax;  // a linear it lacks is InvalidInput at its trace (OnnxOps)
  } else if (precision == Precision::FP8) {
    note(o, "calibrating fp8 activation scales on the CPU executor (" + std::to_string(o.calibration_runs) + " synthetic runs)");
    amax = calibrate_activation_amax(cfg, weights, o.calibration_runs);
  }

  ModelExportResult res;
  engine::EngineManifest& m = res.manifest;
  m.format_version = engine::kManifestFormatVersion;
  m.model_config_sha256 = engine::config_sha256(ckpt->config());
  m.hidden_size = cfg.text.hidden_size;
  m.vocab_size = cfg.vocab_size;
  // The cache is bound at one capacity in every profile (static shapes: decode is graphable).
  DimRange& cap = ranges.at("kv_capacity");
  cap.min = cap.opt = cap.max;
  const DimRange lanes = ranges.at("lanes");
  require(lanes.min >= 1, ErrorCode::InvalidInput, "--profile lanes: at least 1 lane, got " + std::to_string(lanes.min));
  require(cap.max >= ranges.at("seq").max, ErrorCode::InvalidInput,
          "--profile kv_capacity " + std::to_string(cap.max) + " below the largest prefill seq " + std::to_string(ranges.at("seq").max));
  // The graphs are traced at this (static) capacity; the traces write up to row 13 + 64.
  require(cap.max >= kTracePast + std::max<int64_t>(kTraceText + 23, cfg.action_space.n_waypoints), ErrorCode::InvalidInput,
          "--profile kv_capacity " + std::to_string(cap.max) + ": the graphs need at least " +
              std::to_string(kTracePast + std::max<int64_t>(kTraceText + 23, cfg.action_space.n_waypoints)) + " rows");
  m.kv_cache = {cfg.text.num_layers, cfg.text.num_kv_heads, cfg.text.head_dim, cap.max, dtype_of(compute_type(precision)), "in_place"};
  const SampleScene s = sample_scene(cfg, kTraceGrid, kTraceText, 1);
  const auto path = [&](const char* n) { return (fs::path(out_dir) / (std::string(n) + ".onnx")).string(); };

  {
    note(o, "exporting vision.onnx");
    // One call takes every frame of a plan: [images, patches per image, ·] inputs (all frames of one
    // size), traced with kTraceImages frames of the trace grid.
    const std::vector<std::string> ax{"images", "patches", ""};
    const Dyn dyn{{N::kPixelValues, ax}, {N::kVisionPosIdx, ax}, {N::kVisionPosW, ax}, {N::kVisionRopeCos, ax}, {N::kVisionRopeSin, ax}};
    OnnxOps ops(weights, graph_options(path(N::kVision), N::kVision, precision, o, amax, dyn));
    std::vector<float> px;
    for (int64_t i = 0; i < kTraceImages; ++i) px.insert(px.end(), s.pixels.begin(), s.pixels.end());
    vision_graph(ops, cfg, px, s.grid, kTraceImages);
    ops.save();
    Traced t = describe(ops, N::kVision, precision);
    t.spec.profiles.push_back(profile(t, "default", ranges));
    add_fp8_scales(t.spec, ops, amax);
    m.engines.emplace(N::kVision, std::move(t.spec));
    res.onnx_files[N::kVision] = path(N::kVision);
  }
  {
    note(o, "exporting llm.onnx");
    const Dyn dyn{{N::kInputIds, {"seq"}},
                  {N::kRopeCos, {"seq", ""}},
                  {N::kRopeSin, {"seq", ""}},
                  {N::kImagePositions, {"image_tokens"}},
                  {N::kImageEmbeds, {"image_tokens", ""}},
                  {N::kDeepstackEmbeds, {"", "image_tokens", ""}}};
    OnnxOps ops(weights, graph_options(path(N::kLlm), N::kLlm, precision, o, amax, dyn));
    const int64_t n = static_cast<int64_t>(s.ids.size());
    model::reserve_kv_cache(ops, cfg, cap.max);
    require(kTracePast + n <= cap.max, ErrorCode::Internal, "export: llm trace exceeds the KV capacity");
    const int64_t rows = s.grid.patches() / cfg.vision.merge_unit();
    ImageFeatures img;
    img.rows = rows;
    img.embeds.assign(static_cast<size_t>(rows * cfg.text.hidden_size), 0.0f);
    img.deepstack.assign(img.embeds.size() * cfg.vision.deepstack_visual_indexes.size(), 0.0f);
    llm_graph(ops, cfg, s.ids, kTracePast, s.rope.pos, &img);
    ops.save();
    Traced t = describe(ops, N::kLlm, precision);
    // Prefill writes the prompt once (lane 0); decode takes one token per lane.
    t.spec.profiles.push_back(profile(t, "prefill", ranges, {{"lanes", {1, 1, 1}}}));
    t.spec.profiles.push_back(profile(t, "decode", ranges, {{"seq", lanes}, {"image_tokens", {0, 0, 0}}}));
    add_fp8_scales(t.spec, ops, amax);
    m.engines.emplace(N::kLlm, std::move(t.spec));
    res.onnx_files[N::kLlm] = path(N::kLlm);
  }
  {
    note(o, "exporting expert_step.onnx");
    // Rows are lane-major (lanes x n_waypoints); traced with one lane.
    const Dyn dyn{{N::kX, {"action_rows", ""}}, {N::kExpertRopeCos, {"action_rows", ""}}, {N::kExpertRopeSin, {"action_rows", ""}}};
    OnnxOps ops(weights, graph_options(path(N::kExpert), N::kExpert, precision, o, amax, dyn));
    model::reserve_kv_cache(ops, cfg, cap.max);
    expert_graph(ops, cfg, s.noise, 0.5f, kTracePast, s.rope.rope_delta);
    ops.save();
    Traced t = describe(ops, N::kExpert, precision);
    auto r = ranges;
    const int64_t wp = cfg.action_space.n_waypoints;
    r["action_rows"] = {wp * lanes.min, wp * lanes.opt, wp * lanes.max};
    t.spec.profiles.push_back(profile(t, "default", r));
    add_fp8_scales(t.spec, ops, amax);
    m.engines.emplace(N::kExpert, std::move(t.spec));
    res.onnx_files[N::kExpert] = path(N::kExpert);
  }

  if (!o.reference_dir.empty()) {
    note(o, "writing CPU-executor reference cases to " + o.reference_dir);
    ReferenceOptions ro;
    ro.trace_cases = o.reference_trace_cases;
    ro.real_shapes = true;
    ro.prefill_frames = o.reference_prefill_frames;
    write_export_reference(cfg, weights, precision, o.reference_dir, m.kv_cache.capacity, ro);
  }
  return res;
}

}  // namespace alp::exporter
