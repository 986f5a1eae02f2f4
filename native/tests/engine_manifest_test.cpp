// Engine manifest rules that need neither TensorRT nor a GPU: structure/contract validation and the
// load-time checks (TensorRT version, compute capability, precision, checksum, I/O tensors).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/engine_manifest.hpp"
#include "core/engine_manifest_check.hpp"
#include "core/error.hpp"
#include "core/sha256.hpp"
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

// A consistent two-layer manifest (hidden 16, vocab 50, 2 KV heads x 4, capacity 32).
EngineManifest tiny_manifest() {
  const auto I = TensorMode::Input;
  const auto O = TensorMode::Output;
  EngineManifest m;
  m.format_version = 1;
  m.model_config_sha256 = kHashA;
  m.hidden_size = 16;
  m.vocab_size = 50;
  m.kv_cache = {2, 2, 4, 32, "float16", "in_place"};
  const Shape kv{1, 2, 32, 4};

  EngineSpec v = base_engine("vision");
  v.io = {io("pixel_values", I, "float32", {-1, 24}), io("image_grid_thw", I, "int32", {-1, 3}),
          io("image_embeds", O, "float16", {-1, 16}), io("deepstack_embeds", O, "float16", {3, -1, 16})};
  v.profiles = {{"default", {{"pixel_values", {{4, 24}, {8, 24}, {16, 24}}}, {"image_grid_thw", {{1, 3}, {2, 3}, {4, 3}}}}}};

  EngineSpec l = base_engine("llm");
  l.io = {io("input_ids", I, "int32", {1, -1}),          io("position_ids", I, "int32", {3, 1, -1}),
          io("image_token_index", I, "int32", {1, -1}),  io("image_embeds", I, "float16", {-1, 16}),
          io("deepstack_embeds", I, "float16", {3, -1, 16}), io("kv_write_index", I, "int32", {1}),
          io("logits", O, "float32", {1, 50})};
  EngineSpec x = base_engine("expert_step");
  x.io = {io("x", I, "float32", {-1, 64, 2}), io("t", I, "float32", {-1}), io("kv_length", I, "int32", {1}),
          io("position_base", I, "int32", {1}), io("velocity", O, "float32", {-1, 64, 2})};
  for (int64_t layer = 0; layer < 2; ++layer) {
    for (auto n : {names::past_key(layer), names::past_value(layer)}) {
      l.io.push_back(io(n, I, "float16", kv));
      x.io.push_back(io(n, I, "float16", kv));
    }
    for (auto n : {names::present_key(layer), names::present_value(layer)}) l.io.push_back(io(n, O, "float16", kv));
  }
  auto llm_profile = [](const char* name, int64_t smin, int64_t sopt, int64_t smax, int64_t imax) {
    return OptimizationProfile{name,
                               {{"input_ids", {{1, smin}, {1, sopt}, {1, smax}}},
                                {"position_ids", {{3, 1, smin}, {3, 1, sopt}, {3, 1, smax}}},
                                {"image_token_index", {{1, smin}, {1, sopt}, {1, smax}}},
                                {"image_embeds", {{1, 16}, {imax, 16}, {imax, 16}}},
                                {"deepstack_embeds", {{3, 1, 16}, {3, imax, 16}, {3, imax, 16}}}}};
  };
  l.profiles = {llm_profile("prefill", 1, 24, 32, 8), llm_profile("decode", 1, 1, 1, 1)};
  x.profiles = {{"default", {{"x", {{1, 64, 2}, {1, 64, 2}, {6, 64, 2}}}, {"t", {{1}, {1}, {6}}}}}};
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
  CHECK_EQ(m.kv_cache.bytes(), uint64_t(2 * 2 * 2 * 32 * 4 * 2));
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
  missing.erase(missing.begin() + 2);  // kv_length
  CHECK_THROWS_CODE(check_io_tensors(e, missing), ErrorCode::InvalidEngine,
                    "engine expert_step tensor kv_length: listed in the manifest but missing from the engine");
  auto dtype = actual;
  dtype[0].dtype = "float16";
  CHECK_THROWS_CODE(check_io_tensors(e, dtype), ErrorCode::InvalidEngine,
                    "tensor x: dtype float16 in the engine, manifest says float32");
  auto shape = actual;
  shape[0].shape = {-1, 32, 2};
  CHECK_THROWS_CODE(check_io_tensors(e, shape), ErrorCode::InvalidEngine,
                    "tensor x: shape [-1, 32, 2] in the engine, manifest says [-1, 64, 2]");
  auto mode = actual;
  mode[4].mode = TensorMode::Input;
  CHECK_THROWS_CODE(check_io_tensors(e, mode), ErrorCode::InvalidEngine, "tensor velocity: mode input in the engine");
  auto extra = actual;
  extra.push_back(io("debug", TensorMode::Output, "float32", {1}));
  CHECK_THROWS_CODE(check_io_tensors(e, extra), ErrorCode::InvalidEngine, "tensor debug: present in the engine but not");

  check_profile_range(e, 0, "x", {{1, 64, 2}, {1, 64, 2}, {6, 64, 2}});
  CHECK_THROWS_CODE(check_profile_range(e, 0, "x", {{1, 64, 2}, {1, 64, 2}, {4, 64, 2}}), ErrorCode::InvalidEngine,
                    "profile \"default\" input x: engine min/opt/max [1, 64, 2] / [1, 64, 2] / [4, 64, 2]");
}

TEST(engine_manifest_contract_violations) {
  {
    EngineManifest m = tiny_manifest();
    m.engines.erase("expert_step");
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "manifest has no engine \"expert_step\"");
  }
  {
    EngineManifest m = tiny_manifest();
    auto& io = llm(m).io;
    io.erase(io.end() - 1);  // present.1.value
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "engine llm: manifest io lacks required tensor present.1.value");
  }
  {
    EngineManifest m = tiny_manifest();
    m.kv_cache.capacity = 64;  // engines were exported for 32 slots
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine,
                      "tensor past_key_values.0.key: shape [1, 2, 32, 4], expected [1, 2, 64, 4]");
  }
  {
    EngineManifest m = tiny_manifest();
    m.kv_cache.layers = 1;
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "kv_cache.layers = 1 but engines have a tensor past_key_values.1.key");
  }
  {
    EngineManifest m = tiny_manifest();
    llm(m).io[6].shape = {1, 49};
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "tensor logits: shape [1, 49], expected [1, 50]");
  }
  {
    EngineManifest m = tiny_manifest();
    llm(m).profiles[1].name = "step";
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "profiles named \"prefill\" and \"decode\"");
  }
  {
    EngineManifest m = tiny_manifest();
    llm(m).profiles[0].inputs.at("input_ids").max = {1, 40};
    llm(m).profiles[0].inputs.at("input_ids").opt = {1, 40};
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "input_ids max length 40 exceeds kv_cache.capacity 32");
  }
  {
    EngineManifest m = tiny_manifest();
    llm(m).profiles[0].inputs.at("input_ids").opt = {1, 0};
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "dim 1 needs 0 <= min <= opt <= max");
  }
  {
    EngineManifest m = tiny_manifest();
    llm(m).profiles[1].inputs.erase("image_embeds");
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine,
                      "engine llm profile \"decode\": no range for dynamic input image_embeds");
  }
  {
    EngineManifest m = tiny_manifest();
    m.engines.at("expert_step").profiles[0].inputs["kv_length"] = {{2}, {2}, {2}};
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "input kv_length: dim 0 is static 1 but the profile gives 2..2");
  }
  {
    EngineManifest m = tiny_manifest();
    llm(m).file = "../llm.engine";
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "must be a relative path inside the engines directory");
  }
  {
    EngineManifest m = tiny_manifest();
    llm(m).sha256 = "ABC";
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "engine llm: sha256 must be 64 lowercase hex digits");
  }
  {
    EngineManifest m = tiny_manifest();
    m.kv_cache.update = "ping_pong";
    CHECK_THROWS_CODE(validate_manifest(m), ErrorCode::InvalidEngine, "kv_cache.update \"ping_pong\"");
  }
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
