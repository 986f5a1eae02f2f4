#include "core/manifest.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include "core/error.hpp"
#include "core/mapped_file.hpp"

namespace alp {

namespace {

const char* kind_name(const json::Value& v) {
  switch (v.kind()) {
    case json::Value::Kind::Null: return "null";
    case json::Value::Kind::Bool: return "boolean";
    case json::Value::Kind::Number: return "number";
    case json::Value::Kind::String: return "string";
    case json::Value::Kind::Array: return "array";
    case json::Value::Kind::Object: return "object";
  }
  return "?";
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_dotted_version(const std::string& s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.' && s[i - 1] == '.') return false;
    if (s[i] != '.' && (s[i] < '0' || s[i] > '9')) return false;
  }
  return true;
}

bool is_sm(const std::string& s) {
  if (s.size() < 4 || s.compare(0, 3, "sm_") != 0) return false;
  for (size_t i = 3; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

bool is_plain_file_name(const std::string& s) {
  return !s.empty() && s.find('/') == std::string::npos && s.find('\\') == std::string::npos &&
         s.find("..") == std::string::npos && s.find('\0') == std::string::npos;
}

// Walks the document with the current field path, so every failure names exactly where it is.
class Reader {
 public:
  explicit Reader(std::string where) : where_(std::move(where)) {}

  [[noreturn]] void bad(const std::string& path, const std::string& what) const {
    fail(ErrorCode::InvalidEngine, where_ + ": " + path + ": " + what);
  }
  void check(bool ok, const std::string& path, const std::string& what) const {
    if (!ok) bad(path, what);
  }
  const json::Value& field(const json::Value& obj, const std::string& path, const std::string& key) const {
    const json::Value* v = obj.find(key);
    if (!v) bad(join(path, key), "missing field");
    return *v;
  }
  const json::Value& typed(const json::Value& v, json::Value::Kind kind, const char* kind_label,
                           const std::string& path) const {
    if (v.kind() != kind) bad(path, std::string("wrong type (expected ") + kind_label + ", got " + kind_name(v) + ")");
    return v;
  }
  const std::string& str(const json::Value& obj, const std::string& path, const std::string& key) const {
    return typed(field(obj, path, key), json::Value::Kind::String, "string", join(path, key)).as_string();
  }
  const json::Array& arr(const json::Value& obj, const std::string& path, const std::string& key) const {
    return typed(field(obj, path, key), json::Value::Kind::Array, "array", join(path, key)).as_array();
  }
  const json::Value& obj(const json::Value& parent, const std::string& path, const std::string& key) const {
    return typed(field(parent, path, key), json::Value::Kind::Object, "object", join(path, key));
  }
  int64_t integer(const json::Value& v, const std::string& path, int64_t lo) const {
    typed(v, json::Value::Kind::Number, "number", path);
    const double d = v.as_number();
    check(d >= static_cast<double>(lo) && d < 9223372036854775808.0 && std::trunc(d) == d, path,
          "expected an integer >= " + std::to_string(lo) + ", got " + json::stringify(v));
    return static_cast<int64_t>(d);
  }
  Shape shape(const json::Value& v, const std::string& path, int64_t lo) const {
    typed(v, json::Value::Kind::Array, "array", path);
    Shape s;
    for (size_t i = 0; i < v.as_array().size(); ++i)
      s.push_back(integer(v.as_array()[i], path + "[" + std::to_string(i) + "]", lo));
    return s;
  }
  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

 private:
  std::string where_;
};

std::vector<EngineTensor> read_tensors(const Reader& r, const json::Value& engine, const std::string& path,
                                       const std::string& key, std::set<std::string>& seen) {
  const std::string p = Reader::join(path, key);
  const json::Array& list = r.arr(engine, path, key);
  r.check(!list.empty(), p, "expected at least one tensor, got none");
  std::vector<EngineTensor> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string tp = p + "[" + std::to_string(i) + "]";
    r.typed(list[i], json::Value::Kind::Object, "object", tp);
    EngineTensor t;
    t.name = r.str(list[i], tp, "name");
    r.check(!t.name.empty(), tp + ".name", "empty tensor name");
    r.check(seen.insert(t.name).second, tp + ".name", "duplicate I/O tensor name '" + t.name + "'");
    const std::string& dt = r.str(list[i], tp, "dtype");
    const auto dtype = dtype_from_name(dt);
    r.check(dtype.has_value(), tp + ".dtype", "unknown dtype '" + dt + "'");
    t.dtype = *dtype;
    t.shape = r.shape(r.field(list[i], tp, "shape"), tp + ".shape", -1);
    out.push_back(std::move(t));
  }
  return out;
}

bool is_dynamic(const Shape& s) {
  for (int64_t d : s)
    if (d < 0) return true;
  return false;
}

OptimizationProfile read_profile(const Reader& r, const json::Value& v, const std::string& path,
                                 const std::vector<EngineTensor>& inputs) {
  r.typed(v, json::Value::Kind::Object, "object", path);
  OptimizationProfile prof;
  for (const auto& [name, range] : v.as_object()) {
    const std::string p = path + "." + name;
    const EngineTensor* in = nullptr;
    for (const auto& t : inputs)
      if (t.name == name) in = &t;
    r.check(in != nullptr, p, "profile names an input the engine does not have");
    r.typed(range, json::Value::Kind::Object, "object", p);
    ProfileRange pr;
    pr.min = r.shape(r.field(range, p, "min"), p + ".min", 0);
    pr.opt = r.shape(r.field(range, p, "opt"), p + ".opt", 0);
    pr.max = r.shape(r.field(range, p, "max"), p + ".max", 0);
    const std::pair<const char*, const Shape*> parts[] = {{"min", &pr.min}, {"opt", &pr.opt}, {"max", &pr.max}};
    for (const auto& [which, sp] : parts) {
      const Shape& s = *sp;
      r.check(s.size() == in->shape.size(), p + "." + which,
              "rank mismatch (expected " + std::to_string(in->shape.size()) + ", got " + std::to_string(s.size()) + ")");
      for (size_t d = 0; d < s.size(); ++d)
        if (in->shape[d] >= 0)
          r.check(s[d] == in->shape[d], p + "." + which + "[" + std::to_string(d) + "]",
                  "static dimension differs (expected " + std::to_string(in->shape[d]) + ", got " +
                      std::to_string(s[d]) + ")");
    }
    for (size_t d = 0; d < pr.min.size(); ++d)
      r.check(pr.min[d] <= pr.opt[d] && pr.opt[d] <= pr.max[d], p + "[" + std::to_string(d) + "]",
              "expected min <= opt <= max, got " + std::to_string(pr.min[d]) + ", " + std::to_string(pr.opt[d]) +
                  ", " + std::to_string(pr.max[d]));
    prof.emplace(name, std::move(pr));
  }
  for (const auto& t : inputs)
    if (is_dynamic(t.shape))
      r.check(prof.count(t.name) == 1, path, "no range for dynamic input '" + t.name + "'");
  return prof;
}

EngineSpec read_engine(const Reader& r, const json::Value& v, const std::string& path, const std::string& model_hash) {
  r.typed(v, json::Value::Kind::Object, "object", path);
  EngineSpec e;
  e.file = r.str(v, path, "file");
  r.check(is_plain_file_name(e.file), path + ".file", "'" + e.file + "' is not a plain file name inside the directory");
  e.bytes = static_cast<uint64_t>(r.integer(r.field(v, path, "bytes"), path + ".bytes", 0));
  e.sha256 = r.str(v, path, "sha256");
  r.check(is_hex64(e.sha256), path + ".sha256", "expected 64 lowercase hex digits, got '" + e.sha256 + "'");
  e.precision = r.str(v, path, "precision");
  r.check(e.precision == "fp32" || e.precision == "fp16" || e.precision == "bf16" || e.precision == "fp8",
          path + ".precision", "expected fp32, fp16, bf16 or fp8, got '" + e.precision + "'");
  e.tensorrt_version = r.str(v, path, "tensorrt_version");
  r.check(is_dotted_version(e.tensorrt_version), path + ".tensorrt_version",
          "expected a dotted version like 10.3.0, got '" + e.tensorrt_version + "'");
  e.compute_capability = r.str(v, path, "compute_capability");
  r.check(is_sm(e.compute_capability), path + ".compute_capability",
          "expected sm_<digits> like sm_90, got '" + e.compute_capability + "'");
  e.model_config_hash = r.str(v, path, "model_config_hash");
  r.check(e.model_config_hash == model_hash, path + ".model_config_hash",
          "engine was built for another model config (expected " + model_hash + ", got " + e.model_config_hash + ")");
  std::set<std::string> seen;
  e.inputs = read_tensors(r, v, path, "inputs", seen);
  e.outputs = read_tensors(r, v, path, "outputs", seen);
  const json::Array& profiles = r.arr(v, path, "profiles");
  for (size_t i = 0; i < profiles.size(); ++i)
    e.profiles.push_back(read_profile(r, profiles[i], path + ".profiles[" + std::to_string(i) + "]", e.inputs));
  bool dynamic = false;
  for (const auto& t : e.inputs) dynamic = dynamic || is_dynamic(t.shape);
  r.check(!dynamic || !e.profiles.empty(), path + ".profiles", "dynamic inputs need at least one optimization profile");
  return e;
}

json::Value shape_json(const Shape& s) {
  json::Array a;
  for (int64_t d : s) a.emplace_back(d);
  return json::Value(std::move(a));
}

json::Value tensors_json(const std::vector<EngineTensor>& ts) {
  json::Array a;
  for (const auto& t : ts)
    a.emplace_back(json::Object{{"name", json::Value(t.name)},
                                {"dtype", json::Value(std::string(dtype_name(t.dtype)))},
                                {"shape", shape_json(t.shape)}});
  return json::Value(std::move(a));
}

std::string dir_join(const std::string& dir, const std::string& name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

}  // namespace

std::string config_hash(const json::Value& config) { return sha256_hex(json::stringify(config)); }

const EngineTensor* EngineSpec::find_input(std::string_view name) const {
  for (const auto& t : inputs)
    if (t.name == name) return &t;
  return nullptr;
}
const EngineTensor* EngineSpec::find_output(std::string_view name) const {
  for (const auto& t : outputs)
    if (t.name == name) return &t;
  return nullptr;
}

Manifest Manifest::from_json(const json::Value& doc, const std::string& where) {
  const Reader r(where);
  r.typed(doc, json::Value::Kind::Object, "object", "(document)");
  Manifest m;
  const int64_t version = r.integer(r.field(doc, "", "format_version"), "format_version", 0);
  r.check(version == kFormatVersion, "format_version",
          "unsupported (expected " + std::to_string(kFormatVersion) + ", got " + std::to_string(version) + ")");
  m.format_version = static_cast<int>(version);
  m.model = r.field(doc, "", "model");
  r.check(m.model.is_object() || (m.model.is_string() && is_hex64(m.model.as_string())), "model",
          std::string("expected the config object or its 64-hex sha256, got ") + kind_name(m.model));
  const std::string hash = m.model_config_hash();

  const json::Value& engines = r.obj(doc, "", "engines");
  r.check(!engines.as_object().empty(), "engines", "expected at least one engine, got none");
  for (const auto& [name, spec] : engines.as_object()) {
    r.check(name == "vision" || name == "llm" || name == "expert", "engines." + name,
            "unknown engine (expected vision, llm or expert)");
    m.engines.emplace(name, read_engine(r, spec, "engines." + name, hash));
  }
  const json::Value& scales = r.obj(doc, "", "fp8_scales");
  for (const auto& [name, v] : scales.as_object()) {
    const std::string p = "fp8_scales." + name;
    r.typed(v, json::Value::Kind::Number, "number", p);
    r.check(std::isfinite(v.as_number()) && v.as_number() > 0, p,
            "expected a finite positive scale, got " + json::stringify(v));
    m.fp8_scales.emplace(name, v.as_number());
  }
  return m;
}

json::Value Manifest::to_json() const {
  json::Object engines_json;
  for (const auto& [name, e] : engines) {
    json::Array profiles;
    for (const auto& prof : e.profiles) {
      json::Object po;
      for (const auto& [input, pr] : prof)
        po.emplace(input, json::Object{{"min", shape_json(pr.min)}, {"opt", shape_json(pr.opt)}, {"max", shape_json(pr.max)}});
      profiles.emplace_back(std::move(po));
    }
    engines_json.emplace(name, json::Object{{"file", json::Value(e.file)},
                                            {"bytes", json::Value(static_cast<int64_t>(e.bytes))},
                                            {"sha256", json::Value(e.sha256)},
                                            {"precision", json::Value(e.precision)},
                                            {"tensorrt_version", json::Value(e.tensorrt_version)},
                                            {"compute_capability", json::Value(e.compute_capability)},
                                            {"model_config_hash", json::Value(e.model_config_hash)},
                                            {"inputs", tensors_json(e.inputs)},
                                            {"outputs", tensors_json(e.outputs)},
                                            {"profiles", json::Value(std::move(profiles))}});
  }
  json::Object scales;
  for (const auto& [k, v] : fp8_scales) scales.emplace(k, json::Value(v));
  return json::Value(json::Object{{"format_version", json::Value(format_version)},
                                  {"model", model},
                                  {"engines", json::Value(std::move(engines_json))},
                                  {"fp8_scales", json::Value(std::move(scales))}});
}

std::string Manifest::model_config_hash() const {
  return model.is_string() ? model.as_string() : config_hash(model);
}

const EngineSpec& Manifest::engine(std::string_view name) const {
  auto it = engines.find(name);
  require(it != engines.end(), ErrorCode::InvalidEngine,
          std::string(kFileName) + ": engines." + std::string(name) + ": missing engine");
  return it->second;
}

Manifest Manifest::load(const std::string& dir) {
  const std::string path = dir_join(dir, kFileName);
  auto file = MappedFile::open(path, ErrorCode::InvalidEngine);
  json::Value doc;
  try {
    doc = json::parse(std::string_view(reinterpret_cast<const char*>(file->data()), file->size()));
  } catch (const Error& e) {
    fail(ErrorCode::InvalidEngine, path + ": " + e.what());
  }
  Manifest m = from_json(doc, path);
  for (const auto& [name, e] : m.engines) {
    const std::string fp = dir_join(dir, e.file);
    struct stat st {};
    require(::stat(fp.c_str(), &st) == 0, ErrorCode::InvalidEngine,
            path + ": engines." + name + ".file: " + fp + ": " + std::strerror(errno));
    require(static_cast<uint64_t>(st.st_size) == e.bytes, ErrorCode::InvalidEngine,
            path + ": engines." + name + ".bytes: file size differs (expected " + std::to_string(e.bytes) + ", got " +
                std::to_string(st.st_size) + ")");
  }
  return m;
}

void Manifest::save(const std::string& dir) const {
  const std::string path = dir_join(dir, kFileName);
  const json::Value doc = to_json();
  from_json(doc, path);  // never write a manifest that load() would refuse
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

void Manifest::stamp_files(const std::string& dir) {
  for (auto& [name, e] : engines) {
    const std::string fp = dir_join(dir, e.file);
    struct stat st {};
    require(::stat(fp.c_str(), &st) == 0, ErrorCode::InvalidEngine,
            "engines." + name + ".file: " + fp + ": " + std::strerror(errno));
    e.bytes = static_cast<uint64_t>(st.st_size);
    e.sha256 = sha256_file(fp, ErrorCode::InvalidEngine);
  }
}

void Manifest::verify_checksums(const std::string& dir) const {
  for (const auto& [name, e] : engines) {
    const std::string got = sha256_file(dir_join(dir, e.file), ErrorCode::InvalidEngine);
    require(got == e.sha256, ErrorCode::InvalidEngine,
            dir_join(dir, kFileName) + ": engines." + name + ".sha256: " + e.file + " changed (expected " + e.sha256 +
                ", got " + got + ")");
  }
}

void Manifest::require_compatible(std::string_view tensorrt_version, std::string_view compute_capability) const {
  for (const auto& [name, e] : engines) {
    require(e.tensorrt_version == tensorrt_version, ErrorCode::InvalidEngine,
            "engines." + name + ".tensorrt_version: engine built with TensorRT " + e.tensorrt_version +
                ", this runtime is " + std::string(tensorrt_version) + "; rebuild the engines");
    require(e.compute_capability == compute_capability, ErrorCode::InvalidEngine,
            "engines." + name + ".compute_capability: engine built for " + e.compute_capability + ", this GPU is " +
                std::string(compute_capability) + "; rebuild the engines");
  }
}

}  // namespace alp
