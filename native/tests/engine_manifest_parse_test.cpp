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

// One-layer model (hidden 8, vocab 10, 1 KV head x 2, capacity 16) in the documented layout.
std::string manifest_text(const std::string& llm_extra = "") {
  const std::string h = "\"" + std::string(64, 'a') + "\"";
  const std::string kv = R"("dtype": "float16", "shape": [1, 1, 16, 2]})";
  const std::string eng = R"("precision": "fp16", "tensorrt_version": "10.16.0", "compute_capability": "sm_90", "sha256": )" + h;
  return R"({"format_version": 1, "model_config_sha256": )" + h + R"(,
  "model": {"name": "tiny", "hidden_size": 8, "vocab_size": 10},
  "kv_cache": {"layers": 1, "kv_heads": 1, "head_dim": 2, "capacity": 16, "dtype": "float16", "update": "in_place"},
  "engines": {
    "vision": {"file": "vision.engine", )" + eng + R"(,
      "io": [{"name": "pixel_values", "mode": "input", "dtype": "float32", "shape": [-1, 24]},
             {"name": "image_grid_thw", "mode": "input", "dtype": "int32", "shape": [-1, 3]},
             {"name": "image_embeds", "mode": "output", "dtype": "float16", "shape": [-1, 8]},
             {"name": "deepstack_embeds", "mode": "output", "dtype": "float16", "shape": [3, -1, 8]}],
      "profiles": [{"name": "default", "inputs": {
        "pixel_values": {"min": [4, 24], "opt": [8, 24], "max": [16, 24]},
        "image_grid_thw": {"min": [1, 3], "opt": [1, 3], "max": [2, 3]}}}]},
    "llm": {"file": "llm.engine", )" + eng + llm_extra + R"(,
      "io": [{"name": "input_ids", "mode": "input", "dtype": "int32", "shape": [1, -1]},
             {"name": "position_ids", "mode": "input", "dtype": "int32", "shape": [3, 1, -1]},
             {"name": "image_token_index", "mode": "input", "dtype": "int32", "shape": [1, -1]},
             {"name": "image_embeds", "mode": "input", "dtype": "float16", "shape": [-1, 8]},
             {"name": "deepstack_embeds", "mode": "input", "dtype": "float16", "shape": [3, -1, 8]},
             {"name": "kv_write_index", "mode": "input", "dtype": "int32", "shape": [1]},
             {"name": "past_key_values.0.key", "mode": "input", )" + kv + R"(,
             {"name": "past_key_values.0.value", "mode": "input", )" + kv + R"(,
             {"name": "logits", "mode": "output", "dtype": "float32", "shape": [1, 10]},
             {"name": "present.0.key", "mode": "output", )" + kv + R"(,
             {"name": "present.0.value", "mode": "output", )" + kv + R"(],
      "profiles": [
        {"name": "prefill", "inputs": {
          "input_ids": {"min": [1, 1], "opt": [1, 12], "max": [1, 16]},
          "position_ids": {"min": [3, 1, 1], "opt": [3, 1, 12], "max": [3, 1, 16]},
          "image_token_index": {"min": [1, 1], "opt": [1, 12], "max": [1, 16]},
          "image_embeds": {"min": [1, 8], "opt": [4, 8], "max": [4, 8]},
          "deepstack_embeds": {"min": [3, 1, 8], "opt": [3, 4, 8], "max": [3, 4, 8]}}},
        {"name": "decode", "inputs": {
          "input_ids": {"min": [1, 1], "opt": [1, 1], "max": [1, 1]},
          "position_ids": {"min": [3, 1, 1], "opt": [3, 1, 1], "max": [3, 1, 1]},
          "image_token_index": {"min": [1, 1], "opt": [1, 1], "max": [1, 1]},
          "image_embeds": {"min": [1, 8], "opt": [1, 8], "max": [1, 8]},
          "deepstack_embeds": {"min": [3, 1, 8], "opt": [3, 1, 8], "max": [3, 1, 8]}}}]},
    "expert_step": {"file": "expert_step.engine", )" + eng + R"(,
      "io": [{"name": "x", "mode": "input", "dtype": "float32", "shape": [-1, 64, 2]},
             {"name": "t", "mode": "input", "dtype": "float32", "shape": [-1]},
             {"name": "kv_length", "mode": "input", "dtype": "int32", "shape": [1]},
             {"name": "position_base", "mode": "input", "dtype": "int32", "shape": [1]},
             {"name": "past_key_values.0.key", "mode": "input", )" + kv + R"(,
             {"name": "past_key_values.0.value", "mode": "input", )" + kv + R"(,
             {"name": "velocity", "mode": "output", "dtype": "float32", "shape": [-1, 64, 2]}],
      "profiles": [{"name": "default", "inputs": {
        "x": {"min": [1, 64, 2], "opt": [1, 64, 2], "max": [6, 64, 2]},
        "t": {"min": [1], "opt": [1], "max": [6]}}}]}}})";
}

}  // namespace

TEST(engine_manifest_parse_document) {
  const EngineManifest m = parse_engine_manifest(json::parse(manifest_text(R"(, "fp8_scales": {"layer0.q": 0.125})")), "m.json");
  validate_manifest(m);
  CHECK_EQ(m.format_version, int64_t(1));
  CHECK_EQ(m.hidden_size, int64_t(8));
  CHECK_EQ(m.kv_cache.capacity, int64_t(16));
  CHECK_EQ(m.kv_cache.bytes(), uint64_t(2 * 1 * 1 * 16 * 2 * 2));
  const EngineSpec& llm = m.engine("llm");
  CHECK_EQ(llm.io.size(), size_t(11));
  CHECK_EQ(llm.io_tensor("present.0.value").mode == TensorMode::Output, true);
  CHECK_EQ(dims_str(llm.io_tensor("past_key_values.0.key").shape), std::string("[1, 1, 16, 2]"));
  CHECK_EQ(llm.profiles[1].name, std::string("decode"));
  CHECK_EQ(dims_str(llm.profiles[0].inputs.at("deepstack_embeds").opt), std::string("[3, 4, 8]"));
  CHECK_NEAR(llm.fp8_scales.at("layer0.q"), 0.125, 0.0);
  CHECK_EQ(m.engine("expert_step").profiles[0].inputs.at("t").max[0], int64_t(6));
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
  t.replace(t.find("\"dtype\": \"float32\""), 18, "\"dtype\": \"double\"");
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
    t.replace(t.find("\"capacity\": 16"), 14, "\"capacity\": 8");  // prefill max 16 > capacity
    std::ofstream(dir / "manifest.json") << t;
  }
  CHECK_THROWS_CODE(load_engine_manifest(dir.string()), ErrorCode::InvalidEngine, "shape [1, 1, 16, 2], expected [1, 1, 8, 2]");
  {
    std::ofstream(dir / "manifest.json") << manifest_text();
  }
  CHECK_EQ(load_engine_manifest(dir.string()).engines.size(), size_t(3));
  std::filesystem::remove_all(dir);
}
