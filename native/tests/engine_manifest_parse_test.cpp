// manifest.json text -> EngineManifest, and the field-path errors of a malformed manifest.
#include <filesystem>
#include <fstream>
#include <string>

#include "core/engine_manifest.hpp"
#include "core/error.hpp"
#include "tests/check.hpp"

using namespace alp;
using namespace alp::engine;

namespace {

// One-layer model (hidden 8, vocab 10, 1 KV head x 2, capacity 16, up to 3 lanes) in the exported
// layout (engines/README.md, "Exported graphs"; kv_cache.update = "in_place").
std::string manifest_text(const std::string& llm_extra = "") {
  const std::string h = "\"" + std::string(64, 'a') + "\"";
  const std::string kv = R"("dtype": "float32", "shape": [-1, 1, 16, 2]})";
  const std::string eng = R"("precision": "fp16", "tensorrt_version": "10.16.0", "compute_capability": "sm_90", "sha256": )" + h;
  // The caches and kv_write_index of a profile over `lanes` (min, opt, max).
  const auto kv_ranges = [](int a, int b, int c) {
    const std::string l = "{\"min\": [" + std::to_string(a) + ", 1, 16, 2], \"opt\": [" + std::to_string(b) + ", 1, 16, 2], \"max\": [" +
                          std::to_string(c) + ", 1, 16, 2]}";
    return "\"kv_write_index\": {\"min\": [" + std::to_string(a) + "], \"opt\": [" + std::to_string(b) + "], \"max\": [" +
           std::to_string(c) + "]}, \"past_key.0\": " + l + ", \"past_value.0\": " + l;
  };
  return R"({"format_version": 1, "model_config_sha256": )" + h + R"(,
  "model": {"name": "tiny", "hidden_size": 8, "vocab_size": 10},
  "kv_cache": {"layers": 1, "kv_heads": 1, "head_dim": 2, "capacity": 16, "dtype": "float32", "update": "in_place"},
  "engines": {
    "vision": {"file": "vision.engine", )" + eng + R"(,
      "io": [{"name": "pixel_values", "mode": "input", "dtype": "float32", "shape": [-1, 24]},
             {"name": "vision_pos_idx", "mode": "input", "dtype": "int64", "shape": [-1, 4]},
             {"name": "vision_pos_w", "mode": "input", "dtype": "float32", "shape": [-1, 4]},
             {"name": "vision_rope_cos", "mode": "input", "dtype": "float32", "shape": [-1, 4]},
             {"name": "vision_rope_sin", "mode": "input", "dtype": "float32", "shape": [-1, 4]},
             {"name": "image_embeds", "mode": "output", "dtype": "float32", "shape": [-1, 8]},
             {"name": "deepstack_embeds", "mode": "output", "dtype": "float32", "shape": [3, -1, 8]}],
      "profiles": [{"name": "default", "inputs": {
        "pixel_values": {"min": [4, 24], "opt": [8, 24], "max": [16, 24]},
        "vision_pos_idx": {"min": [4, 4], "opt": [8, 4], "max": [16, 4]},
        "vision_pos_w": {"min": [4, 4], "opt": [8, 4], "max": [16, 4]},
        "vision_rope_cos": {"min": [4, 4], "opt": [8, 4], "max": [16, 4]},
        "vision_rope_sin": {"min": [4, 4], "opt": [8, 4], "max": [16, 4]}}}]},
    "llm": {"file": "llm.engine", )" + eng + llm_extra + R"(,
      "io": [{"name": "input_ids", "mode": "input", "dtype": "int64", "shape": [-1]},
             {"name": "rope_cos", "mode": "input", "dtype": "float32", "shape": [-1, 2]},
             {"name": "rope_sin", "mode": "input", "dtype": "float32", "shape": [-1, 2]},
             {"name": "image_positions", "mode": "input", "dtype": "int64", "shape": [-1]},
             {"name": "image_embeds", "mode": "input", "dtype": "float32", "shape": [-1, 8]},
             {"name": "deepstack_embeds", "mode": "input", "dtype": "float32", "shape": [3, -1, 8]},
             {"name": "kv_write_index", "mode": "input", "dtype": "int64", "shape": [-1]},
             {"name": "past_key.0", "mode": "input", )" + kv + R"(,
             {"name": "past_value.0", "mode": "input", )" + kv + R"(,
             {"name": "logits", "mode": "output", "dtype": "float32", "shape": [-1, 10]},
             {"name": "present_key.0", "mode": "output", )" + kv + R"(,
             {"name": "present_value.0", "mode": "output", )" + kv + R"(],
      "profiles": [
        {"name": "prefill", "inputs": {
          "input_ids": {"min": [1], "opt": [12], "max": [12]},
          "rope_cos": {"min": [1, 2], "opt": [12, 2], "max": [12, 2]},
          "rope_sin": {"min": [1, 2], "opt": [12, 2], "max": [12, 2]},
          "image_positions": {"min": [0], "opt": [4], "max": [4]},
          "image_embeds": {"min": [0, 8], "opt": [4, 8], "max": [4, 8]},
          "deepstack_embeds": {"min": [3, 0, 8], "opt": [3, 4, 8], "max": [3, 4, 8]},
          )" + kv_ranges(1, 1, 1) + R"(}},
        {"name": "decode", "inputs": {
          "input_ids": {"min": [1], "opt": [2], "max": [3]},
          "rope_cos": {"min": [1, 2], "opt": [2, 2], "max": [3, 2]},
          "rope_sin": {"min": [1, 2], "opt": [2, 2], "max": [3, 2]},
          "image_positions": {"min": [0], "opt": [0], "max": [0]},
          "image_embeds": {"min": [0, 8], "opt": [0, 8], "max": [0, 8]},
          "deepstack_embeds": {"min": [3, 0, 8], "opt": [3, 0, 8], "max": [3, 0, 8]},
          )" + kv_ranges(1, 2, 3) + R"(}}]},
    "expert_step": {"file": "expert_step.engine", )" + eng + R"(,
      "io": [{"name": "x", "mode": "input", "dtype": "float32", "shape": [-1, 2]},
             {"name": "t", "mode": "input", "dtype": "float32", "shape": [1, 1]},
             {"name": "expert_rope_cos", "mode": "input", "dtype": "float32", "shape": [-1, 2]},
             {"name": "expert_rope_sin", "mode": "input", "dtype": "float32", "shape": [-1, 2]},
             {"name": "kv_write_index", "mode": "input", "dtype": "int64", "shape": [-1]},
             {"name": "past_key.0", "mode": "input", )" + kv + R"(,
             {"name": "past_value.0", "mode": "input", )" + kv + R"(,
             {"name": "velocity", "mode": "output", "dtype": "float32", "shape": [-1, 2]},
             {"name": "present_key.0", "mode": "output", )" + kv + R"(,
             {"name": "present_value.0", "mode": "output", )" + kv + R"(],
      "profiles": [{"name": "default", "inputs": {
        "x": {"min": [64, 2], "opt": [128, 2], "max": [192, 2]},
        "expert_rope_cos": {"min": [64, 2], "opt": [128, 2], "max": [192, 2]},
        "expert_rope_sin": {"min": [64, 2], "opt": [128, 2], "max": [192, 2]},
        )" + kv_ranges(1, 2, 3) + R"(}}]}}})";
}

}  // namespace

TEST(engine_manifest_parse_document) {
  const EngineManifest m = parse_engine_manifest(json::parse(manifest_text(R"(, "fp8_scales": {"layer0.q": 0.125})")), "m.json");
  validate_manifest(m);
  CHECK_EQ(m.format_version, int64_t(1));
  CHECK_EQ(m.hidden_size, int64_t(8));
  CHECK_EQ(m.kv_cache.capacity, int64_t(16));
  CHECK_EQ(m.kv_cache.bytes(), uint64_t(2 * 1 * 1 * 16 * 2 * 4));
  const EngineSpec& llm = m.engine("llm");
  CHECK_EQ(llm.io.size(), size_t(12));
  CHECK_EQ(llm.io_tensor("present_value.0").mode == TensorMode::Output, true);
  CHECK_EQ(dims_str(llm.io_tensor("past_key.0").shape), std::string("[-1, 1, 16, 2]"));
  CHECK_EQ(llm.profiles[1].name, std::string("decode"));
  CHECK_EQ(dims_str(llm.profiles[0].inputs.at("deepstack_embeds").opt), std::string("[3, 4, 8]"));
  CHECK_NEAR(llm.fp8_scales.at("layer0.q"), 0.125, 0.0);
  CHECK_EQ(m.engine("expert_step").profiles[0].inputs.at("past_key.0").max[0], int64_t(3));  // lanes
}

TEST(engine_manifest_parse_errors_name_the_field) {
  auto parse = [](const std::string& text) { return parse_engine_manifest(json::parse(text), "m.json"); };
  CHECK_THROWS_CODE(parse(R"({"format_version": 2})"), ErrorCode::InvalidEngine,
                    "m.json: format_version = 2, this runner reads version 1");
  std::string t = manifest_text();
  t.replace(t.find("\"mode\": \"input\""), 15, "\"mode\": \"in\"");
  CHECK_THROWS_CODE(parse(t), ErrorCode::InvalidEngine, "engines.vision.io[0].mode = \"in\"");
  t = manifest_text();
  t.replace(t.find("\"shape\": [-1, 24]"), 17, "\"shape\": [-1, 2.5]");
  CHECK_THROWS_CODE(parse(t), ErrorCode::InvalidEngine, "engines.vision.io[0].shape[1] must be an integer");
  t = manifest_text();
  t.replace(t.find("\"file\": \"llm.engine\", "), 22, "");
  CHECK_THROWS_CODE(parse(t), ErrorCode::InvalidEngine, "missing field engines.llm.file");
  t = manifest_text();
  t.replace(t.find("\"dtype\": \"float32\", \"shape\": [-1, 24]"), 18, "\"dtype\": \"double\"");
  CHECK_THROWS_CODE(parse(t), ErrorCode::InvalidEngine, "engines.vision.io[0].dtype = \"double\" is not a known dtype");
  t = manifest_text();
  t.replace(t.find("\"max\": [16, 24]"), 15, "\"max\": 16");
  CHECK_THROWS_CODE(parse(t), ErrorCode::InvalidEngine,
                    "engines.vision.profiles[0].inputs.pixel_values.max must be an array of integers");
}

TEST(engine_manifest_load_from_directory) {
  const auto dir = std::filesystem::temp_directory_path() / "alp_engine_manifest_load_test";
  std::filesystem::create_directories(dir);
  CHECK_THROWS_CODE(load_engine_manifest(dir.string()), ErrorCode::InvalidEngine, "manifest.json");
  {
    std::ofstream(dir / "manifest.json") << "{\"format_version\": 1,";
  }
  CHECK_THROWS_CODE(load_engine_manifest(dir.string()), ErrorCode::InvalidEngine, "manifest.json: ");
  {
    std::string t = manifest_text();
    t.replace(t.find("\"capacity\": 16"), 14, "\"capacity\": 8");  // the caches are bound at 16 rows
    std::ofstream(dir / "manifest.json") << t;
  }
  CHECK_THROWS_CODE(load_engine_manifest(dir.string()), ErrorCode::InvalidEngine,
                    "engine llm tensor past_key.0: shape [-1, 1, 16, 2], expected [-1, 1, 8, 2]");
  {
    std::ofstream(dir / "manifest.json") << manifest_text();
  }
  CHECK_EQ(load_engine_manifest(dir.string()).engines.size(), size_t(3));
  std::filesystem::remove_all(dir);
}
