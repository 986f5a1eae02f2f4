#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/engine_manifest.hpp"
#include "core/error.hpp"
#include "core/sha256.hpp"

// EngineManifest -> manifest.json, and the file stamps written when engines are built.
namespace alp::engine {
namespace {

json::Value shape_json(const Shape& s) {
  json::Array a;
  for (int64_t d : s) a.emplace_back(d);
  return a;
}

json::Value engine_json(const EngineSpec& e) {
  json::Array io;
  for (const auto& t : e.io)
    io.emplace_back(json::Object{{"name", t.name}, {"mode", tensor_mode_name(t.mode)}, {"dtype", t.dtype}, {"shape", shape_json(t.shape)}});
  json::Array profiles;
  for (const auto& p : e.profiles) {
    json::Object inputs;
    for (const auto& [name, r] : p.inputs)
      inputs[name] = json::Object{{"min", shape_json(r.min)}, {"opt", shape_json(r.opt)}, {"max", shape_json(r.max)}};
    profiles.emplace_back(json::Object{{"name", p.name}, {"inputs", inputs}});
  }
  json::Object o{{"file", e.file},
                 {"precision", e.precision},
                 {"tensorrt_version", e.tensorrt_version},
                 {"compute_capability", e.compute_capability},
                 {"sha256", e.sha256},
                 {"built", e.built},
                 {"io", io},
                 {"profiles", profiles}};
  if (!e.onnx.empty()) o["onnx"] = e.onnx;
  if (e.weight_bytes > 0) o["weight_bytes"] = static_cast<double>(e.weight_bytes);
  if (!e.fp8_scales.empty()) {
    json::Object s;
    for (const auto& [k, v] : e.fp8_scales) s[k] = v;
    o["fp8_scales"] = s;
  }
  return o;
}

std::string file_in(const std::string& dir, const std::string& file) { return dir + "/" + file; }

}  // namespace

std::string config_sha256(const json::Value& config) { return sha256_hex(json::stringify(config)); }

json::Value manifest_to_json(const EngineManifest& m) {
  json::Object engines;
  for (const auto& [name, e] : m.engines) engines[name] = engine_json(e);
  const KvCacheSpec& kv = m.kv_cache;
  return json::Object{{"format_version", m.format_version},
                      {"model_config_sha256", m.model_config_sha256},
                      {"model", json::Object{{"hidden_size", m.hidden_size}, {"vocab_size", m.vocab_size}}},
                      {"kv_cache", json::Object{{"layers", kv.layers},
                                                {"kv_heads", kv.kv_heads},
                                                {"head_dim", kv.head_dim},
                                                {"capacity", kv.capacity},
                                                {"dtype", kv.dtype},
                                                {"update", kv.update}}},
                      {"engines", engines}};
}

void save_engine_manifest(const EngineManifest& m, const std::string& dir) {
  const std::string path = file_in(dir, "manifest.json");
  const json::Value doc = manifest_to_json(m);
  // Never write what the reader would refuse or read differently.
  if (!(manifest_to_json(parse_engine_manifest(doc, path)) == doc))
    fail(ErrorCode::Internal, path + ": manifest does not survive a write/read round trip");
  const std::string text = json::stringify(doc, 2) + "\n";
  const std::string tmp = path + ".partial";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      fail(ErrorCode::InvalidEngine, path + ": cannot write: " + std::strerror(errno));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string msg = path + ": cannot rename into place: " + std::strerror(errno);
    std::remove(tmp.c_str());
    fail(ErrorCode::InvalidEngine, msg);
  }
}

void stamp_engine_files(EngineManifest& m, const std::string& dir) {
  for (auto& [name, e] : m.engines)
    if (e.built) e.sha256 = sha256_file(file_in(dir, e.file), ErrorCode::InvalidEngine);
}

void verify_engine_checksums(const EngineManifest& m, const std::string& dir) {
  for (const auto& [name, e] : m.engines) {
    if (!e.built) continue;
    const std::string got = sha256_file(file_in(dir, e.file), ErrorCode::InvalidEngine);
    if (got != e.sha256)
      fail(ErrorCode::InvalidEngine, "engines." + name + ".sha256: " + e.file + " changed (expected " + e.sha256 + ", got " + got + ")");
  }
}

}  // namespace alp::engine
