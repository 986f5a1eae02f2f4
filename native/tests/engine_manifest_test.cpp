// Engine manifest rules that need neither TensorRT nor a GPU: structure/contract validation and the
// load-time checks (TensorRT version, compute capability, precision, checksum, I/O tensors).
#include <cstdio>
#include <functional>
#include <vector>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/checkpoint.hpp"
#include "core/engine_manifest.hpp"
#include "core/engine_manifest_check.hpp"
#include "core/error.hpp"
#include "core/file_sha256_cache.hpp"
#include "core/sha256.hpp"
#include "export/model_export.hpp"
#include "model/checkpoint_writer.hpp"
#include "model/config.hpp"
#include "tests/check.hpp"
#include "tests/temp_dir.hpp"

using namespace alp;
using namespace alp::engine;

namespace {

constexpr const char* kHashA = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

IoTensorSpec io(std::string name, TensorMode mode, std::string dtype, Shape shape) {
  return {std::move(name), mode, std::move(dtype), std::move(shape)};
}

EngineSpec base_engine(const char* name) {
  EngineSpec e;
  e.name = name;
  e.file = std::string(name) + ".engine";
  e.precision = "fp16";
  e.tensorrt_version = "10.16.0";
  e.compute_capability = "sm_90";
  e.sha256 = kHashA;
  return e;
}

// A consistent two-layer manifest in the exported format (hidden 16, vocab 50, 2 KV heads x 4,
// capacity 32, float32 cache in place, 2 deepstack layers, up to 4 lanes).
EngineManifest tiny_manifest() {
  const auto I = TensorMode::Input;
  const auto O = TensorMode::Output;
  EngineManifest m;
  m.format_version = 1;
  m.model_config_sha256 = kHashA;
  m.hidden_size = 16;
  m.vocab_size = 50;
  m.kv_cache = {2, 2, 4, 32, "float32", "in_place"};
  const Shape kv{-1, 2, 32, 4};

  EngineSpec v = base_engine("vision");
  v.io = {io("pixel_values", I, "float32", {-1, 24}),   io("vision_pos_idx", I, "int64", {-1, 4}),
          io("vision_pos_w", I, "float32", {-1, 4}),    io("vision_rope_cos", I, "float32", {-1, 8}),
          io("vision_rope_sin", I, "float32", {-1, 8}), io("image_embeds", O, "float32", {-1, 16}),
          io("deepstack_embeds", O, "float32", {2, -1, 16})};
  const auto patches = [](int64_t cols) { return ProfileRange{{4, cols}, {16, cols}, {64, cols}}; };
  v.profiles = {{"default",
                 {{"pixel_values", patches(24)}, {"vision_pos_idx", patches(4)}, {"vision_pos_w", patches(4)},
                  {"vision_rope_cos", patches(8)}, {"vision_rope_sin", patches(8)}}}};

  EngineSpec l = base_engine("llm");
  l.io = {io("input_ids", I, "int64", {-1}),       io("rope_cos", I, "float32", {-1, 4}),
          io("rope_sin", I, "float32", {-1, 4}),   io("image_positions", I, "int64", {-1}),
          io("image_embeds", I, "float32", {-1, 16}), io("deepstack_embeds", I, "float32", {2, -1, 16}),
          io("logits", O, "float32", {-1, 50}),    io("kv_write_index", I, "int64", {-1})};
  EngineSpec x = base_engine("expert_step");
  x.io = {io("x", I, "float32", {-1, 2}), io("t", I, "float32", {1, 1}), io("expert_rope_cos", I, "float32", {-1, 4}),
          io("expert_rope_sin", I, "float32", {-1, 4}), io("velocity", O, "float32", {-1, 2}),
          io("kv_write_index", I, "int64", {-1})};
  for (int64_t layer = 0; layer < 2; ++layer) {
    for (auto n : {names::past_key(layer), names::past_value(layer)}) {
      l.io.push_back(io(n, I, "float32", kv));
      x.io.push_back(io(n, I, "float32", kv));
    }
    for (auto n : {names::present_key(layer), names::present_value(layer)}) {
      l.io.push_back(io(n, O, "float32", kv));
      x.io.push_back(io(n, O, "float32", kv));
    }
  }
  const auto cols = [](const ProfileRange& r, Shape lead, Shape tail) {
    auto f = [&](const Shape& d) {
      Shape s = lead;
      s.insert(s.end(), d.begin(), d.end());
      s.insert(s.end(), tail.begin(), tail.end());
      return s;
    };
    return ProfileRange{f(r.min), f(r.opt), f(r.max)};
  };
  // The caches [lanes, 2, capacity 32, 4] and kv_write_index [lanes] of a profile.
  const auto kv_ranges = [&](OptimizationProfile& p, ProfileRange lanes) {
    p.inputs["kv_write_index"] = lanes;
    for (int64_t layer = 0; layer < 2; ++layer)
      for (auto n : {names::past_key(layer), names::past_value(layer)}) p.inputs[n] = cols(lanes, {}, {2, 32, 4});
  };
  // seq, image_tokens and lanes ranges of one llm profile.
  auto llm_profile = [&](const char* name, ProfileRange seq, ProfileRange img, ProfileRange lanes) {
    OptimizationProfile p{name,
                          {{"input_ids", seq},
                           {"rope_cos", cols(seq, {}, {4})},
                           {"rope_sin", cols(seq, {}, {4})},
                           {"image_positions", img},
                           {"image_embeds", cols(img, {}, {16})},
                           {"deepstack_embeds", cols(img, {2}, {16})}}};
    kv_ranges(p, lanes);
    return p;
  };
  l.profiles = {llm_profile("prefill", {{1}, {8}, {16}}, {{0}, {8}, {8}}, {{1}, {1}, {1}}),
                llm_profile("decode", {{1}, {2}, {4}}, {{0}, {0}, {0}}, {{1}, {2}, {4}})};
  const ProfileRange rows{{64}, {128}, {256}};
  OptimizationProfile xp{"default",
                         {{"x", cols(rows, {}, {2})}, {"expert_rope_cos", cols(rows, {}, {4})}, {"expert_rope_sin", cols(rows, {}, {4})}}};
  kv_ranges(xp, {{1}, {2}, {4}});
  x.profiles = {xp};
  m.engines = {{"vision", v}, {"llm", l}, {"expert_step", x}};
  return m;
}

EngineSpec& llm(EngineManifest& m) { return m.engines.at("llm"); }

}  // namespace

TEST(engine_manifest_sha256_known_vectors) {
  // FIPS 180-2 appendix B vectors and hashlib.sha256(b"a" * 1000000).
  const std::string abc = "abc";
  CHECK_EQ(sha256_hex(abc), std::string(kHashA));
  CHECK_EQ(sha256_hex(""), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  const std::string two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK_EQ(sha256_hex(two),
           std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  // Streaming in uneven pieces must equal one-shot hashing.
  const std::string mil(1000000, 'a');
  Sha256 h;
  for (size_t i = 0; i < mil.size();) {
    const size_t n = std::min<size_t>(1 + (i % 97), mil.size() - i);
    h.update(mil.data() + i, n);
    i += n;
  }
  CHECK_EQ(to_hex(h.finish()), std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

TEST(engine_manifest_sha256_file_and_checksum) {
  const auto dir = std::filesystem::temp_directory_path() / "alp_engine_manifest_test";
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir / "llm.engine", std::ios::binary);
    f << "abc";
  }
  EngineManifest m = tiny_manifest();
  const std::string path = engine_file_path(llm(m), dir.string());
  CHECK_EQ(sha256_file(path), std::string(kHashA));
  check_checksum(llm(m), sha256_file(path));  // matches: no throw
  {
    std::ofstream f(dir / "llm.engine", std::ios::binary | std::ios::app);
    f << "d";  // a modified/truncated copy no longer matches
  }
  CHECK_THROWS_CODE(check_checksum(llm(m), sha256_file(path)), ErrorCode::InvalidEngine, "sha256 of llm.engine is 88d4266f");
  CHECK_THROWS_CODE(engine_file_path(m.engines.at("vision"), dir.string()), ErrorCode::InvalidEngine,
                    "engine vision: file");
  CHECK_THROWS_CODE(sha256_file((dir / "absent").string(), ErrorCode::InvalidEngine), ErrorCode::InvalidEngine, "absent");
  std::filesystem::remove_all(dir);
}

TEST(engine_manifest_valid_contract_passes) {
  const EngineManifest m = tiny_manifest();
  validate_manifest(m);
  CHECK_EQ(m.kv_cache.bytes(), uint64_t(2 * 2 * 2 * 32 * 4 * 4));  // one lane
  CHECK_EQ(m.engine("llm").profile_index("decode"), 1);
  CHECK_EQ(m.engine("llm").profile_index("nope"), -1);
  CHECK_EQ(dims_str({1, -1, -2}, true), std::string("[1, -1, *]"));
}

TEST(engine_manifest_tensorrt_version_mismatch) {
  const EngineManifest m = tiny_manifest();
  check_tensorrt_version(m.engine("llm"), 10, 16);
  CHECK_THROWS_CODE(check_tensorrt_version(m.engine("llm"), 10, 8), ErrorCode::InvalidEngine,
                    "engine llm: tensorrt_version 10.16.0 (built with 10.16) but the TensorRT runtime is 10.8");
  CHECK_THROWS_CODE(check_tensorrt_version(m.engine("llm"), 11, 16), ErrorCode::InvalidEngine, "runtime is 11.16");
  EngineManifest bad = tiny_manifest();
  llm(bad).tensorrt_version = "ten";
  CHECK_THROWS_CODE(validate_manifest(bad), ErrorCode::InvalidEngine, "tensorrt_version \"ten\" is not MAJOR.MINOR");
}

TEST(engine_manifest_compute_capability_and_precision) {
  EngineManifest m = tiny_manifest();
  CHECK_EQ(parse_compute_capability("sm_89", "x").major, 8);
  CHECK_EQ(parse_compute_capability("sm_89", "x").minor, 9);
  CHECK_EQ(parse_compute_capability("sm_120", "x").value(), 120);
  CHECK_THROWS_CODE(parse_compute_capability("90", "cc"), ErrorCode::InvalidEngine, "cc \"90\" is not of the form sm_XY");
  check_gpu(m.engine("llm"), {9, 0}, "H100");
  CHECK_THROWS_CODE(check_gpu(m.engine("llm"), {8, 9}, "L40S"), ErrorCode::InvalidEngine,
                    "engine llm: compute_capability sm_90 but the GPU (L40S) is sm_89");
  // fp8 on an Ampere GPU is unavailable, not a mismatch, and never silently downgraded.
  llm(m).precision = "fp8";
  CHECK_THROWS_CODE(check_gpu(m.engine("llm"), {8, 0}, "A100"), ErrorCode::BackendUnavailable,
                    "precision fp8 needs sm_89 or newer, but A100 is sm_80");
  // A manifest that claims an fp8 engine for sm_80 contradicts itself.
  llm(m).compute_capability = "sm_80";
  CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "precision fp8 cannot run on sm_80");
  llm(m).precision = "int4";
  CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "precision \"int4\"");
}

TEST(engine_manifest_io_tensors_against_engine) {
  const EngineManifest m = tiny_manifest();
  const EngineSpec& e = m.engine("expert_step");
  std::vector<IoTensorSpec> actual = e.io;
  check_io_tensors(e, actual);

  auto missing = actual;
  missing.erase(missing.begin() + 2);  // expert_rope_cos
  CHECK_THROWS_CODE(check_io_tensors(e, missing), ErrorCode::InvalidEngine,
                    "engine expert_step tensor expert_rope_cos: listed in the manifest but missing from the engine");
  auto renamed = actual;
  renamed[6].name = "past_key_values.0.key";  // another spelling
  CHECK_THROWS_CODE(check_io_tensors(e, renamed), ErrorCode::InvalidEngine,
                    "engine expert_step tensor past_key.0: listed in the manifest but missing");
  auto dtype = actual;
  dtype[0].dtype = "float16";
  CHECK_THROWS_CODE(check_io_tensors(e, dtype), ErrorCode::InvalidEngine,
                    "tensor x: dtype float16 in the engine, manifest says float32");
  auto shape = actual;
  shape[0].shape = {64, 2};
  CHECK_THROWS_CODE(check_io_tensors(e, shape), ErrorCode::InvalidEngine,
                    "tensor x: shape [64, 2] in the engine, manifest says [-1, 2]");
  auto mode = actual;
  mode[4].mode = TensorMode::Input;
  CHECK_THROWS_CODE(check_io_tensors(e, mode), ErrorCode::InvalidEngine, "tensor velocity: mode input in the engine");
  auto extra = actual;
  extra.push_back(io("debug", TensorMode::Output, "float32", {1}));
  CHECK_THROWS_CODE(check_io_tensors(e, extra), ErrorCode::InvalidEngine, "tensor debug: present in the engine but not");

  check_profile_range(e, 0, "past_key.0", {{1, 2, 32, 4}, {2, 2, 32, 4}, {4, 2, 32, 4}});
  CHECK_THROWS_CODE(check_profile_range(e, 0, "past_key.0", {{1, 2, 32, 4}, {2, 2, 32, 4}, {2, 2, 32, 4}}), ErrorCode::InvalidEngine,
                    "profile \"default\" input past_key.0: engine min/opt/max [1, 2, 32, 4] / [2, 2, 32, 4] / [2, 2, 32, 4]");
}

TEST(engine_manifest_contract_violations) {
  // Each case: one edit of the consistent manifest, and the InvalidEngine text naming the field.
  struct Case {
    const char* expect;
    std::function<void(EngineManifest&)> edit;
  };
  const std::vector<Case> cases = {
      {"manifest has no engine \"expert_step\"", [](EngineManifest& m) { m.engines.erase("expert_step"); }},
      {"engine llm: manifest io lacks required tensor present_value.1",
       [](EngineManifest& m) { llm(m).io.erase(llm(m).io.end() - 1); }},
      {"engine llm: manifest io lacks required tensor past_key.0",
       [](EngineManifest& m) {
         for (auto& t : llm(m).io)
           if (t.name == "past_key.0") t.name = "past_key_values.0.key";
       }},
      {"engine llm tensor past_key.0: shape [-1, 2, 32, 4], expected [-1, 4, 32, 4]", [](EngineManifest& m) { m.kv_cache.kv_heads = 4; }},
      {"engine llm tensor past_key.0: dtype float32, expected float16", [](EngineManifest& m) { m.kv_cache.dtype = "float16"; }},
      {"kv_cache.dtype \"int8\", expected float32, float16 or bfloat16", [](EngineManifest& m) { m.kv_cache.dtype = "int8"; }},
      {"kv_cache.layers = 1 but engine llm has a tensor past_key.1", [](EngineManifest& m) { m.kv_cache.layers = 1; }},
      {"engine expert_step: reads 2 KV layers, kv_cache.layers is 1",
       [](EngineManifest& m) {
         m.kv_cache.layers = 1;
         auto& io = llm(m).io;
         std::erase_if(io, [](const IoTensorSpec& t) { return t.name.ends_with(".1"); });
         for (auto& p : llm(m).profiles) std::erase_if(p.inputs, [](const auto& kv) { return kv.first.ends_with(".1"); });
       }},
      {"engine llm tensor logits: shape [-1, 49], expected [-1, 50]", [](EngineManifest& m) { llm(m).io[6].shape = {-1, 49}; }},
      {"engine llm tensor kv_write_index: dtype int32, expected int64", [](EngineManifest& m) { llm(m).io[7].dtype = "int32"; }},
      {"engine llm tensor input_ids: dtype int32, expected int64", [](EngineManifest& m) { llm(m).io[0].dtype = "int32"; }},
      {"engine llm tensor rope_cos: shape [-1, 8], expected [-1, 4]", [](EngineManifest& m) { llm(m).io[1].shape = {-1, 8}; }},
      {"engine llm tensor image_embeds: dtype float16, expected float32", [](EngineManifest& m) { llm(m).io[4].dtype = "float16"; }},
      {"engine llm tensor deepstack_embeds: shape [3, -1, 16], expected [2, -1, 16]",
       [](EngineManifest& m) { llm(m).io[5].shape = {3, -1, 16}; }},
      {"engine vision: manifest io lacks required tensor vision_pos_idx",
       [](EngineManifest& m) { m.engines.at("vision").io[1].name = "image_grid_thw"; }},
      {"engine expert_step tensor t: shape [1], expected [1, 1]",
       [](EngineManifest& m) { m.engines.at("expert_step").io[1].shape = {1}; }},
      {"engine expert_step tensor velocity: shape [-1, 3], expected [-1, 2]",
       [](EngineManifest& m) { m.engines.at("expert_step").io[4].shape = {-1, 3}; }},
      {"engine expert_step: manifest io lacks required tensor present_key.0",
       [](EngineManifest& m) { std::erase_if(m.engines.at("expert_step").io, [](const IoTensorSpec& t) { return t.name == "present_key.0"; }); }},
      {"profiles named \"prefill\" and \"decode\"", [](EngineManifest& m) { llm(m).profiles[1].name = "step"; }},
      {"engine llm profile \"prefill\": seq max 40 exceeds kv_cache.capacity 32",
       [](EngineManifest& m) {
         for (auto& [n, r] : llm(m).profiles[0].inputs)
           if (n == "input_ids" || n.starts_with("rope_")) r.max[0] = 40;
       }},
      {"engine llm profile \"prefill\": kv_write_index lanes max 2, prefill writes the prompt once (1 lane)",
       [](EngineManifest& m) {
         for (auto& [n, r] : llm(m).profiles[0].inputs)
           if (n == "kv_write_index" || n.starts_with("past_")) r.opt[0] = r.max[0] = 2;
       }},
      {"engine llm profile \"decode\": input_ids range [1]..[3] is not one token per lane (kv_write_index [1]..[4])",
       [](EngineManifest& m) {
         for (auto& [n, r] : llm(m).profiles[1].inputs)
           if (n == "input_ids" || n.starts_with("rope_")) r.max[0] = 3;
       }},
      {"engine llm tensor past_key.0: shape [-1, 2, 32, 4], expected [-1, 2, 16, 4]", [](EngineManifest& m) { m.kv_cache.capacity = 16; }},
      {"input past_key.0: dim 2 is static 32 but the profile gives 16..32",
       [](EngineManifest& m) {
         for (auto& [n, r] : m.engines.at("expert_step").profiles[0].inputs)
           if (n.starts_with("past_")) r.min[2] = r.opt[2] = 16;
       }},
      {"engine llm profile \"decode\": past_key.0 lanes 1..4 differ from kv_write_index 1..3",
       [](EngineManifest& m) { llm(m).profiles[1].inputs.at("kv_write_index").max = {3}; }},
      {"dim 0 needs 0 <= min <= opt <= max", [](EngineManifest& m) { llm(m).profiles[0].inputs.at("input_ids").opt = {0}; }},
      {"engine llm profile \"decode\": no range for dynamic input image_embeds",
       [](EngineManifest& m) { llm(m).profiles[1].inputs.erase("image_embeds"); }},
      {"input t: dim 0 is static 1 but the profile gives 2..2",
       [](EngineManifest& m) { m.engines.at("expert_step").profiles[0].inputs["t"] = {{2, 1}, {2, 1}, {2, 1}}; }},
      {"must be a relative path inside the engines directory", [](EngineManifest& m) { llm(m).file = "../llm.engine"; }},
      {"engine llm: sha256 must be 64 lowercase hex digits", [](EngineManifest& m) { llm(m).sha256 = "ABC"; }},
      {"kv_cache.update \"concat\", this runner drives \"in_place\"", [](EngineManifest& m) { m.kv_cache.update = "concat"; }},
      {"engine llm: built is false but no onnx graph is named", [](EngineManifest& m) { llm(m).built = false; }},
  };
  for (const Case& c : cases) {
    EngineManifest m = tiny_manifest();
    c.edit(m);
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, c.expect);
  }
}

TEST(engine_manifest_unbuilt_entries_pass_validation_and_fail_loading) {
  EngineManifest m = tiny_manifest();
  EngineSpec& l = llm(m);
  l.built = false;
  l.onnx = "llm.onnx";
  l.tensorrt_version.clear();
  l.compute_capability.clear();
  l.sha256.clear();
  validate_manifest(m);  // exported only: nothing to say about a plan that does not exist yet
  CHECK_THROWS_CODE(check_built(l), ErrorCode::InvalidEngine, "engine llm: manifest says built = false (only llm.onnx was exported)");
  check_built(m.engine("vision"));
}

TEST(engine_manifest_model_dims_against_checkpoint) {
  const EngineManifest m = tiny_manifest();
  const ModelDims ok{16, 50, 2, 2, 4, 64, 2};
  check_model_dims(m, ok);
  ModelDims d = ok;
  d.vocab_size = 51;
  CHECK_THROWS_CODE(check_model_dims(m, d), ErrorCode::InvalidEngine, "model.vocab_size = 50 in the manifest, the checkpoint config has 51");
  d = ok;
  d.head_dim = 8;
  CHECK_THROWS_CODE(check_model_dims(m, d), ErrorCode::InvalidEngine, "kv_cache.head_dim = 4 in the manifest");
  d = ok;
  d.action_dims = 3;
  CHECK_THROWS_CODE(check_model_dims(m, d), ErrorCode::InvalidEngine, "tensor x: shape [-1, 2], the checkpoint config has [-1, 3]");
}

// What build-engines writes must be what the runner accepts: the manifest export_models derives from
// the traced graphs of a real (tiny) checkpoint passes validate_manifest as exported, after the
// save/load round trip, and once stamped as build_all does; each load-time mismatch names its field.
TEST(engine_manifest_exported_models_pass_validation) {
  test::TempDir dir;
  model::write_random_checkpoint(dir.file("ckpt"), "tiny", 7);
  exporter::ModelExportOptions o;
  o.dim_ranges["patches"] = {4, 32, 64};
  o.dim_ranges["image_tokens"] = {0, 16, 32};
  o.dim_ranges["seq"] = {1, 16, 48};
  o.dim_ranges["kv_capacity"] = {96, 96, 96};
  o.dim_ranges["lanes"] = {1, 2, 6};
  exporter::ModelExportResult r = exporter::export_models(dir.file("ckpt"), dir.file("out"), Precision::FP32, o);
  EngineManifest& m = r.manifest;
  validate_manifest(m);
  CHECK_EQ(m.kv_cache.update, std::string("in_place"));
  CHECK_EQ(m.kv_cache.capacity, int64_t{96});

  const model::ModelConfig cfg = model::parse_model_config(Checkpoint::open(dir.file("ckpt"))->config());
  check_model_dims(m, {cfg.text.hidden_size, cfg.vocab_size, cfg.text.num_layers, cfg.text.num_kv_heads,
                       cfg.text.head_dim, cfg.action_space.n_waypoints, cfg.action_dims});
  // The names the runner binds are the graphs' names, layer by layer.
  const EngineSpec& l = m.engine("llm");
  for (int64_t layer = 0; layer < cfg.text.num_layers; ++layer) {
    CHECK(l.io_tensor(names::past_value(layer)).shape == (Shape{-1, cfg.text.num_kv_heads, 96, cfg.text.head_dim}));
    CHECK(l.io_tensor(names::present_key(layer)).mode == TensorMode::Output);
    CHECK(m.engine("expert_step").io_tensor(names::past_key(layer)).mode == TensorMode::Input);
  }
  CHECK(l.io_tensor(names::kRopeCos).shape == (Shape{-1, cfg.text.head_dim}));
  CHECK(m.engine("expert_step").io_tensor(names::kExpertRopeSin).shape == (Shape{-1, cfg.expert.head_dim}));
  CHECK(m.engine("vision").io_tensor(names::kVisionRopeCos).shape == (Shape{-1, cfg.vision.head_dim()}));
  // Decode: one token per lane, up to --profile lanes' max; the expert: n_waypoints rows per lane.
  CHECK_EQ(l.profiles.at(static_cast<size_t>(l.profile_index("decode"))).inputs.at(names::kInputIds).max[0], int64_t{6});
  CHECK(m.engine("expert_step").profiles[0].inputs.at(names::kX).max == (Shape{6 * cfg.action_space.n_waypoints, cfg.action_dims}));
  // Unbuilt: valid, but not loadable.
  CHECK_THROWS_CODE(check_built(l), ErrorCode::InvalidEngine, "engine llm: manifest says built = false (only llm.onnx was exported)");

  // Stamped as build-engines stamps a TensorRT build, written and read back as the runner reads it.
  for (auto& [name, e] : m.engines) {
    std::ofstream(dir.file("out/" + e.file), std::ios::binary) << name << " plan bytes";
    e.built = true;
    e.tensorrt_version = "10.16.1";
    e.compute_capability = "sm_90";
  }
  stamp_engine_files(m, dir.file("out"));
  save_engine_manifest(m, dir.file("out"));
  const EngineManifest back = load_engine_manifest(dir.file("out"));  // parses and validates
  CHECK(manifest_to_json(back) == manifest_to_json(m));
  const EngineSpec& bl = back.engine("llm");
  check_built(bl);
  check_tensorrt_version(bl, 10, 16);
  check_gpu(bl, {9, 0}, "H100");
  check_checksum(bl, sha256_file(engine_file_path(bl, dir.file("out"))));
  check_io_tensors(bl, bl.io);

  CHECK_THROWS_CODE(check_tensorrt_version(bl, 10, 15), ErrorCode::InvalidEngine,
                    "engine llm: tensorrt_version 10.16.1 (built with 10.16) but the TensorRT runtime is 10.15");
  CHECK_THROWS_CODE(check_gpu(bl, {8, 9}, "L40S"), ErrorCode::InvalidEngine,
                    "engine llm: compute_capability sm_90 but the GPU (L40S) is sm_89");
  CHECK_THROWS_CODE(check_checksum(bl, sha256_hex("other plan")), ErrorCode::InvalidEngine, "engine llm: sha256 of llm.engine is");
  auto io = bl.io;
  for (auto& t : io)
    if (t.name == names::present_key(1)) t.name = "present.1.key";
  CHECK_THROWS_CODE(check_io_tensors(bl, io), ErrorCode::InvalidEngine,
                    "engine llm tensor present_key.1: listed in the manifest but missing from the engine");
  io = bl.io;
  for (auto& t : io)
    if (t.name == names::kInputIds) t.dtype = "int32";
  CHECK_THROWS_CODE(check_io_tensors(bl, io), ErrorCode::InvalidEngine,
                    "engine llm tensor input_ids: dtype int32 in the engine, manifest says int64");
  io = bl.io;
  for (auto& t : io)
    if (t.name == names::past_key(0)) t.shape = {1, cfg.text.num_kv_heads, -1, cfg.text.head_dim};
  CHECK_THROWS_CODE(check_io_tensors(bl, io), ErrorCode::InvalidEngine, "engine llm tensor past_key.0: shape [1, 2, -1, 16] in the engine");

  // A manifest edited after the build is refused on load, naming the field.
  EngineManifest bad = m;
  for (auto& t : bad.engines.at("expert_step").io)
    if (t.name == names::kVelocity) t.dtype = "float16";
  save_engine_manifest(bad, dir.file("out"));
  CHECK_THROWS_CODE(load_engine_manifest(dir.file("out")), ErrorCode::InvalidEngine,
                    "engine expert_step tensor velocity: dtype float16, expected float32");
}

// Moved from the former core/manifest.hpp: canonical config hash, atomic save + read back, file stamps.
TEST(engine_manifest_save_stamp_verify) {
  const json::Value config = json::parse(R"({"hidden_size": 4096, "vocab": 151936, "rope_theta": 5000000.0})");
  CHECK_EQ(config_sha256(config), sha256_hex(R"({"hidden_size":4096,"rope_theta":5000000,"vocab":151936})"));
  CHECK_EQ(config_sha256(json::parse(R"({ "vocab":151936,"rope_theta":5e6, "hidden_size":4096 })")), config_sha256(config));

  test::TempDir dir;
  EngineManifest m = tiny_manifest();
  for (auto& [name, e] : m.engines) {
    std::ofstream(dir.path() + "/" + e.file, std::ios::binary) << name << " plan";
    e.sha256.clear();
  }
  m.engines.at("vision").fp8_scales["w:input"] = 0.125;
  m.engines.at("expert_step").built = false;  // exported, plan not built: no stamp, no verification
  m.engines.at("expert_step").onnx = "expert_step.onnx";
  stamp_engine_files(m, dir.path());
  CHECK_EQ(llm(m).sha256, sha256_hex("llm plan"));
  CHECK_EQ(m.engines.at("expert_step").sha256, std::string());
  save_engine_manifest(m, dir.path());
  const EngineManifest back = parse_engine_manifest(json::parse([&] { auto b = test::read_bytes(dir.path() + "/manifest.json"); return std::string(b.begin(), b.end()); }()), "m");
  CHECK(manifest_to_json(back) == manifest_to_json(m));
  CHECK_EQ(back.engines.at("vision").fp8_scales.at("w:input"), 0.125);
  CHECK(!back.engines.at("expert_step").built);
  CHECK_EQ(back.engines.at("expert_step").onnx, std::string("expert_step.onnx"));
  CHECK_EQ(back.kv_cache.capacity, m.kv_cache.capacity);
  verify_engine_checksums(back, dir.path());
  std::ofstream(dir.path() + "/vision.engine", std::ios::binary) << "VISION plan";  // same size, other bytes
  CHECK_THROWS_CODE(verify_engine_checksums(back, dir.path()), ErrorCode::InvalidEngine, "engines.vision.sha256: vision.engine changed");
  CHECK(!std::filesystem::exists(dir.path() + "/manifest.json.partial"));
}

// The loader's plan checksum: computed once per file version, recomputed when the file changes.
TEST(engine_plan_sha256_is_cached_per_file_version) {
  test::TempDir dir;
  const std::string f = dir.file("plan.engine");
  std::ofstream(f, std::ios::binary) << "abc";
  const uint64_t before = file_sha256_computations();
  const FileDigest a = cached_file_sha256(f);
  CHECK_EQ(a.sha256, std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));  // FIPS 180-2 "abc"
  CHECK_EQ(a.size, uint64_t{3});
  CHECK_EQ(cached_file_sha256(f).sha256, a.sha256);
  CHECK_EQ(file_sha256_computations(), before + 1);  // the second load did not read the file
  std::ofstream(f, std::ios::binary) << "abcd";      // new size: a new version
  CHECK(cached_file_sha256(f).sha256 != a.sha256);
  CHECK_EQ(file_sha256_computations(), before + 2);
  std::ofstream(dir.file("empty.engine"), std::ios::binary);
  CHECK_THROWS_CODE(cached_file_sha256(dir.file("empty.engine")), ErrorCode::InvalidEngine, "is empty");
  CHECK_THROWS_CODE(cached_file_sha256(dir.file("missing.engine")), ErrorCode::InvalidEngine, "cannot open");
}
