#include <cmath>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/engine_manifest.hpp"
#include "core/error.hpp"

// manifest.json -> EngineManifest. Kept apart from engine_manifest.cpp so the checks link without the
// JSON parser.
namespace alp::engine {
namespace {

[[noreturn]] void bad(std::string_view source, const std::string& what) {
  fail(ErrorCode::InvalidEngine, std::string(source) + ": " + what);
}

// Field readers: the json accessors throw InvalidInput with a generic text; a manifest error must
// name the field path, so kinds are checked here first.
const json::Value& field(const json::Value& obj, std::string_view key, const std::string& path, std::string_view src) {
  const json::Value* v = obj.find(key);
  if (!v) bad(src, "missing field " + path + "." + std::string(key));
  return *v;
}

std::string str_field(const json::Value& obj, std::string_view key, const std::string& path, std::string_view src) {
  const json::Value& v = field(obj, key, path, src);
  if (!v.is_string()) bad(src, "field " + path + "." + std::string(key) + " must be a string");
  return v.as_string();
}

int64_t int_of(const json::Value& v, const std::string& where, std::string_view src) {
  if (!v.is_number()) bad(src, where + " must be an integer");
  const double d = v.as_number();
  if (d != static_cast<double>(static_cast<int64_t>(d))) bad(src, where + " must be an integer, got a fraction");
  return static_cast<int64_t>(d);
}

int64_t int_field(const json::Value& obj, std::string_view key, const std::string& path, std::string_view src) {
  return int_of(field(obj, key, path, src), path + "." + std::string(key), src);
}

Shape shape_of(const json::Value& v, const std::string& where, std::string_view src) {
  if (!v.is_array()) bad(src, where + " must be an array of integers");
  Shape s;
  for (size_t i = 0; i < v.as_array().size(); ++i) {
    const int64_t d = int_of(v.as_array()[i], where + "[" + std::to_string(i) + "]", src);
    if (d < -1) bad(src, where + "[" + std::to_string(i) + "] = " + std::to_string(d) + ", expected >= -1");
    s.push_back(d);
  }
  return s;
}

IoTensorSpec parse_io(const json::Value& v, const std::string& path, std::string_view src) {
  if (!v.is_object()) bad(src, path + " must be an object");
  IoTensorSpec t;
  t.name = str_field(v, "name", path, src);
  const std::string mode = str_field(v, "mode", path, src);
  if (mode == "input") t.mode = TensorMode::Input;
  else if (mode == "output") t.mode = TensorMode::Output;
  else bad(src, path + ".mode = \"" + mode + "\", expected \"input\" or \"output\"");
  t.dtype = str_field(v, "dtype", path, src);
  if (!is_known_dtype(t.dtype)) bad(src, path + ".dtype = \"" + t.dtype + "\" is not a known dtype");
  t.shape = shape_of(field(v, "shape", path, src), path + ".shape", src);
  return t;
}

OptimizationProfile parse_profile(const json::Value& v, const std::string& path, std::string_view src) {
  if (!v.is_object()) bad(src, path + " must be an object");
  OptimizationProfile p;
  p.name = str_field(v, "name", path, src);
  const json::Value& inputs = field(v, "inputs", path, src);
  if (!inputs.is_object()) bad(src, path + ".inputs must be an object");
  for (const auto& [name, r] : inputs.as_object()) {
    const std::string rp = path + ".inputs." + name;
    if (!r.is_object()) bad(src, rp + " must be an object with min/opt/max");
    p.inputs[name] = ProfileRange{shape_of(field(r, "min", rp, src), rp + ".min", src),
                                  shape_of(field(r, "opt", rp, src), rp + ".opt", src),
                                  shape_of(field(r, "max", rp, src), rp + ".max", src)};
  }
  return p;
}

EngineSpec parse_engine(const std::string& name, const json::Value& v, std::string_view src) {
  const std::string path = "engines." + name;
  if (!v.is_object()) bad(src, path + " must be an object");
  EngineSpec e;
  e.name = name;
  e.file = str_field(v, "file", path, src);
  e.precision = str_field(v, "precision", path, src);
  e.tensorrt_version = str_field(v, "tensorrt_version", path, src);
  e.compute_capability = str_field(v, "compute_capability", path, src);
  e.sha256 = str_field(v, "sha256", path, src);
  if (const json::Value* o = v.find("onnx")) {
    if (!o->is_string()) bad(src, path + ".onnx must be a string");
    e.onnx = o->as_string();
  }
  if (const json::Value* b = v.find("built")) {
    if (!b->is_bool()) bad(src, path + ".built must be a boolean");
    e.built = b->as_bool();
  }
  const json::Value& io = field(v, "io", path, src);
  if (!io.is_array()) bad(src, path + ".io must be an array");
  for (size_t i = 0; i < io.as_array().size(); ++i)
    e.io.push_back(parse_io(io.as_array()[i], path + ".io[" + std::to_string(i) + "]", src));
  const json::Value& profiles = field(v, "profiles", path, src);
  if (!profiles.is_array()) bad(src, path + ".profiles must be an array");
  for (size_t i = 0; i < profiles.as_array().size(); ++i)
    e.profiles.push_back(parse_profile(profiles.as_array()[i], path + ".profiles[" + std::to_string(i) + "]", src));
  if (const json::Value* w = v.find("weight_bytes")) {
    if (!w->is_number() || w->as_number() < 0 || w->as_number() != std::floor(w->as_number()))
      bad(src, path + ".weight_bytes must be a non-negative integer");
    e.weight_bytes = static_cast<uint64_t>(w->as_number());
  }
  if (const json::Value* s = v.find("fp8_scales")) {
    if (!s->is_object()) bad(src, path + ".fp8_scales must be an object of numbers");
    for (const auto& [k, x] : s->as_object()) {
      if (!x.is_number()) bad(src, path + ".fp8_scales." + k + " must be a number");
      e.fp8_scales[k] = x.as_number();
    }
  }
  return e;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(ErrorCode::InvalidEngine, "cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

EngineManifest parse_engine_manifest(const json::Value& doc, std::string_view src) {
  if (!doc.is_object()) bad(src, "manifest must be a JSON object");
  EngineManifest m;
  m.format_version = int_field(doc, "format_version", "manifest", src);
  if (m.format_version != kManifestFormatVersion)
    bad(src, "format_version = " + std::to_string(m.format_version) + ", this runner reads version " +
                 std::to_string(kManifestFormatVersion));
  m.model_config_sha256 = str_field(doc, "model_config_sha256", "manifest", src);
  const json::Value& model = field(doc, "model", "manifest", src);
  if (!model.is_object()) bad(src, "model must be an object");
  m.hidden_size = int_field(model, "hidden_size", "model", src);
  m.vocab_size = int_field(model, "vocab_size", "model", src);
  const json::Value& kv = field(doc, "kv_cache", "manifest", src);
  if (!kv.is_object()) bad(src, "kv_cache must be an object");
  m.kv_cache.layers = int_field(kv, "layers", "kv_cache", src);
  m.kv_cache.kv_heads = int_field(kv, "kv_heads", "kv_cache", src);
  m.kv_cache.head_dim = int_field(kv, "head_dim", "kv_cache", src);
  m.kv_cache.capacity = int_field(kv, "capacity", "kv_cache", src);
  m.kv_cache.dtype = str_field(kv, "dtype", "kv_cache", src);
  m.kv_cache.update = str_field(kv, "update", "kv_cache", src);
  const json::Value& engines = field(doc, "engines", "manifest", src);
  if (!engines.is_object()) bad(src, "engines must be an object");
  for (const auto& [name, e] : engines.as_object()) m.engines.emplace(name, parse_engine(name, e, src));
  return m;
}

EngineManifest load_engine_manifest(const std::string& dir) {
  const std::string path = dir + "/manifest.json";
  const std::string text = read_text(path);
  json::Value doc;
  try {
    doc = json::parse(text);
  } catch (const Error& e) {
    fail(ErrorCode::InvalidEngine, path + ": " + e.what());
  }
  EngineManifest m = parse_engine_manifest(doc, path);
  validate_manifest(m);
  return m;
}

}  // namespace alp::engine
