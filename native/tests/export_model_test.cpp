// Model export without onnxruntime: the manifest the exporter derives from the traced graphs, fp8
// calibration coverage, --profile parsing and the trtexec commands. The numerical round trip is
// test/onnxExport.test.ts (onnxruntime vs the CPU executor).
#include <filesystem>

#include "export/export_engines.hpp"
#include "export/model_export.hpp"
#include "export/trtexec_commands.hpp"
#include "model/checkpoint_writer.hpp"
#include "pipeline/planner.hpp"
#include "tests/check.hpp"
#include "tests/temp_dir.hpp"

using namespace alp;

TEST(export_models_manifest_and_fp8_scales) {
  test::TempDir dir;
  model::write_random_checkpoint(dir.file("ckpt"), "tiny", 1);
  exporter::ModelExportOptions o;
  o.dim_ranges["seq"] = {1, 8, 32};
  auto r = exporter::export_models(dir.file("ckpt"), dir.file("fp8"), Precision::FP8, o);
  const engine::EngineSpec& llm = r.manifest.engine("llm");
  CHECK_EQ(llm.io_tensor("input_ids").dtype, std::string("int64"));
  CHECK(llm.io_tensor("input_ids").shape == Shape{-1});
  // [lanes, kv_heads, capacity, head_dim]: the capacity static, as IKVCacheUpdateLayer needs.
  CHECK(llm.io_tensor("past_key.1").shape == (Shape{-1, 2, r.manifest.kv_cache.capacity, 16}));
  CHECK(llm.io_tensor("kv_write_index").shape == Shape{-1});
  CHECK(llm.io_tensor("present_value.1").mode == engine::TensorMode::Output);
  CHECK(llm.io_tensor("logits").shape == (Shape{-1, r.manifest.vocab_size}));  // one row per lane
  CHECK_EQ(llm.profiles.size(), 2u);
  CHECK(llm.profiles[0].inputs.at("input_ids").max == Shape{32});
  CHECK(llm.profiles[1].inputs.at("image_embeds").max == (Shape{0, 64}));
  // Every linear of the tiny llm (2 layers x 7) has a calibrated input scale; lm_head stays fp16.
  CHECK_EQ(llm.fp8_scales.size(), 14u);
  CHECK(!llm.fp8_scales.count("vlm.lm_head.weight:input"));
  CHECK(r.manifest.engine("vision").fp8_scales.empty());  // the vision tower stays fp16
  for (const auto& [k, s] : r.manifest.engine("expert_step").fp8_scales) CHECK(!k.starts_with("action_"));
  CHECK_EQ(r.manifest.kv_cache.dtype, std::string("float16"));
  CHECK_EQ(llm.io_tensor("past_key.1").dtype, std::string("float16"));
  CHECK_EQ(llm.io_tensor("logits").dtype, std::string("float32"));
  for (const auto& [k, s] : llm.fp8_scales) CHECK(s > 0 && s < 1);
  const int64_t cap = r.manifest.kv_cache.capacity;
  CHECK(r.manifest.engine("expert_step").profiles[0].inputs.at("past_key.0").min == (Shape{1, 2, cap, 16}));
  CHECK(r.manifest.engine("expert_step").io_tensor("present_key.0").mode == engine::TensorMode::Output);
  CHECK(std::filesystem::file_size(dir.file("fp8/llm.onnx.data")) > 0);
  CHECK_EQ(llm.weight_bytes, static_cast<uint64_t>(std::filesystem::file_size(dir.file("fp8/llm.onnx.data"))));
  CHECK(!llm.built);

  const auto cmds = exporter::trtexec_commands(r.manifest, "E");
  CHECK_EQ(cmds.size(), 3u);
  CHECK(cmds[1].starts_with("trtexec --onnx=E/llm.onnx --saveEngine=E/llm.engine --stronglyTyped --profile=0 --minShapes="));
  CHECK(cmds[1].find("input_ids:1,") != std::string::npos);
}

TEST(export_profile_and_precision_parsing) {
  auto [name, r] = exporter::parse_dim_range("seq=1:64:4096");
  CHECK_EQ(name, std::string("seq"));
  CHECK_EQ(r.min, 1);
  CHECK_EQ(r.opt, 64);
  CHECK_EQ(r.max, 4096);
  CHECK_THROWS_CODE(exporter::parse_dim_range("seq=4:2:8"), ErrorCode::InvalidInput, "min <= opt <= max");
  CHECK_THROWS_CODE(exporter::parse_dim_range("seq=1:2"), ErrorCode::InvalidInput, "name=min:opt:max");
  CHECK_THROWS_CODE(exporter::parse_dim_range("seq=1:2:3x"), ErrorCode::InvalidInput, "--profile 'seq=1:2:3x'");
  CHECK(parse_precision("bf16") == Precision::BF16);
  CHECK_THROWS_CODE(parse_precision("int4"), ErrorCode::InvalidInput, "got 'int4'");
}

// Audit of the default engine profiles against the planner's real layout: the release (16 frames of
// 1080x1920 -> 320x576: 720 patches, 180 image tokens each) and, for the tiny checkpoint, against
// what the Planner itself computes at load.
TEST(export_profiles_audit_planner_layout) {
  model::ModelConfig release;  // Qwen3-VL vision defaults: patch 16, merge 2
  release.min_pixels = 163840;
  release.max_pixels = 196608;
  const auto l = exporter::planner_layout(release);
  CHECK_EQ(l.patches_per_image, int64_t{720});
  CHECK_EQ(l.image_tokens, int64_t{16 * 180});
  CHECK_EQ(l.prompt_opt, int64_t{2880 + 420});  // the ~3,300-token prompt
  const auto r = exporter::planner_dim_ranges(release);
  CHECK(r.at("patches").min == 720 && r.at("patches").opt == 720 && r.at("patches").max == 720);
  // All 16 frames of a plan in one vision call (opt = max = 16), and one frame still fits.
  CHECK(r.at("images").min == 1 && r.at("images").opt == 16 && r.at("images").max == 16);
  CHECK(r.at("image_tokens").opt == 2880 && r.at("image_tokens").max == 2880);
  CHECK(r.at("seq").opt == 3300 && r.at("seq").max >= 3300);
  // Each lane holds the prompt plus the whole reasoning budget (256), the trajectory-start token and
  // the expert's 64 action rows, at one static capacity; lanes go up to the planner's sampleBatch max.
  CHECK(r.at("kv_capacity").min == r.at("kv_capacity").max);
  CHECK(r.at("kv_capacity").max >= r.at("seq").max + 256 + 1 + release.action_space.n_waypoints);
  CHECK(r.at("lanes").min == 1 && r.at("lanes").max == 16);

  test::TempDir dir;
  model::write_random_checkpoint(dir.file("ckpt"), "tiny", 2);
  pipeline::LoadOptions lo;
  lo.checkpoint = dir.file("ckpt");
  const auto planner = pipeline::Planner::load(lo);
  const auto res = exporter::export_models(dir.file("ckpt"), dir.file("out"), Precision::FP32);
  const engine::EngineSpec& llm = res.manifest.engine("llm");
  const engine::EngineSpec& vision = res.manifest.engine("vision");
  const int64_t image_tokens = 16 * planner->image_tokens_per_image();
  const auto& prefill = llm.profiles.at(static_cast<size_t>(llm.profile_index("prefill"))).inputs;
  CHECK_EQ(prefill.at("image_positions").opt[0], image_tokens);
  CHECK_EQ(prefill.at("image_positions").max[0], image_tokens);
  CHECK(prefill.at("input_ids").opt[0] > image_tokens);
  CHECK_EQ(prefill.at("past_key.0").max[0], int64_t{1});  // prefill writes the prompt into one lane
  CHECK_EQ(prefill.at("kv_write_index").max[0], int64_t{1});
  // pixel_values [images, patches per image, patch_dim]: 1..16 images (opt 16), each at the planner's
  // per-frame patch count, and the tables share both axes.
  for (const char* in : {"pixel_values", "vision_pos_idx", "vision_pos_w", "vision_rope_cos", "vision_rope_sin"}) {
    const auto& px = vision.profiles.at(0).inputs.at(in);
    CHECK(px.min.size() == 3 && px.min[0] == 1 && px.opt[0] == 16 && px.max[0] == 16);
    CHECK_EQ(px.opt[1], image_tokens / 16 * 4);  // merge 2x2 in the tiny preset
    CHECK(px.min[1] == px.opt[1] && px.max[1] == px.opt[1]);
  }
  CHECK_EQ(vision.profiles.at(0).inputs.at("pixel_values").opt[1], planner->image_tokens_per_image() * 4);
  // The manifest's weight bytes per precision: fp16 halves fp32 (up to 64-byte alignment padding).
  const auto f16 = exporter::export_models(dir.file("ckpt"), dir.file("out16"), Precision::FP16);
  for (const char* name : {"vision", "llm", "expert_step"}) {
    const uint64_t b32 = res.manifest.engine(name).weight_bytes, b16 = f16.manifest.engine(name).weight_bytes;
    CHECK(b32 > 0 && b16 > 0);
    CHECK(b16 * 2 >= b32 && b16 * 2 <= b32 + 64 * 200);
  }
  const auto& decode = llm.profiles.at(static_cast<size_t>(llm.profile_index("decode"))).inputs;
  const int64_t cap = res.manifest.kv_cache.capacity;
  CHECK(decode.at("past_key.0").min == (Shape{1, 2, cap, 16}) && decode.at("past_key.0").max == (Shape{16, 2, cap, 16}));
  CHECK(decode.at("input_ids").max == Shape{16});  // one token per lane
  // Capacity: the planner's prompt + reasoning budget + trajectory-start + the expert's action rows.
  CHECK(cap >= prefill.at("input_ids").max[0] + 256 + 1 + 64);
  const auto& expert = res.manifest.engine("expert_step").profiles.at(0).inputs;
  CHECK(expert.at("x").max == (Shape{16 * 64, 2}));
}

// The realdims preset: the release's layer widths (model-spec 1.1, 1.2, 3.1) with few layers, and the
// release's planner layout (720 patches and 180 image tokens per 1080x1920 frame).
TEST(export_realdims_preset_has_the_release_layer_dims) {
  const model::ModelConfig r = model::parse_model_config(model::preset_config("realdims"));
  CHECK_EQ(r.text.hidden_size, 4096);
  CHECK_EQ(r.text.intermediate_size, 12288);
  CHECK_EQ(r.text.num_heads, 32);
  CHECK_EQ(r.text.num_kv_heads, 8);
  CHECK_EQ(r.text.head_dim, 128);
  CHECK_EQ(r.text.num_layers, 2);
  CHECK_EQ(r.vision.hidden_size, 1152);
  CHECK_EQ(r.vision.intermediate_size, 4304);
  CHECK_EQ(r.vision.depth, 2);
  CHECK_EQ(r.vision.deepstack_visual_indexes.size(), 2u);
  CHECK_EQ(r.expert.hidden_size, 2048);
  CHECK_EQ(r.expert.intermediate_size, 8256);
  CHECK_EQ(r.expert.num_heads, 16);
  CHECK_EQ(r.expert.num_kv_heads, 8);
  CHECK_EQ(r.expert.num_layers, 1);
  const auto l = exporter::planner_layout(r);
  CHECK_EQ(l.patches_per_image, int64_t{720});
  CHECK_EQ(l.image_tokens, int64_t{2880});
  CHECK_EQ(l.prompt_opt, int64_t{3300});
}

// build-engines --export-only: the builder (TensorRT's, in an addon that has it) is never called, the
// manifest says not built and the trtexec commands are returned; without export-only the same builder
// is called once and its result is what manifest.json records. A recording builder stands in for
// TensorRT, so this runs without it.
TEST(export_engines_export_only_never_builds) {
  test::TempDir dir;
  model::write_random_checkpoint(dir.file("ckpt"), "tiny", 3);
  exporter::ModelExportOptions o;
  o.dim_ranges["seq"] = {1, 8, 32};
  int calls = 0;
  const exporter::EngineBuilder build = [&](engine::EngineManifest& m, const std::string& out) {
    ++calls;
    CHECK(std::filesystem::exists(out + "/llm.onnx"));  // called after the export
    for (auto& [name, e] : m.engines) {
      e.built = true;
      e.tensorrt_version = "10.16.0";
      e.compute_capability = "sm_90";
      e.sha256 = std::string(64, 'a');
    }
  };
  const auto only = exporter::export_engines(dir.file("ckpt"), dir.file("only"), Precision::FP16, o, /*export_only=*/true, build);
  CHECK_EQ(calls, 0);
  CHECK(!only.built);
  CHECK_EQ(only.trtexec.size(), only.manifest.engines.size());
  for (const char* f : {"vision.onnx", "llm.onnx", "expert_step.onnx", "manifest.json"}) CHECK(std::filesystem::exists(dir.file("only") + "/" + f));
  for (const auto& [name, e] : engine::load_engine_manifest(dir.file("only")).engines) {
    CHECK(!e.built);
    CHECK(e.tensorrt_version.empty());
  }

  const auto full = exporter::export_engines(dir.file("ckpt"), dir.file("full"), Precision::FP16, o, /*export_only=*/false, build);
  CHECK_EQ(calls, 1);
  CHECK(full.built);
  CHECK(full.trtexec.empty());
  for (const auto& [name, e] : engine::load_engine_manifest(dir.file("full")).engines) CHECK(e.built);

  // No builder compiled in (the CPU and CUDA variants): exported, not built, commands returned.
  const auto none = exporter::export_engines(dir.file("ckpt"), dir.file("none"), Precision::FP16, o, false, {});
  CHECK(!none.built);
  CHECK(!none.trtexec.empty());
}
