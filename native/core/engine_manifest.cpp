#include "core/engine_manifest.hpp"

#include "core/error.hpp"

namespace alp::engine {

namespace names {
std::string past_key(int64_t layer) { return "past_key." + std::to_string(layer); }
std::string past_value(int64_t layer) { return "past_value." + std::to_string(layer); }
std::string present_key(int64_t layer) { return "present_key." + std::to_string(layer); }
std::string present_value(int64_t layer) { return "present_value." + std::to_string(layer); }
}  // namespace names

const char* tensor_mode_name(TensorMode m) noexcept { return m == TensorMode::Input ? "input" : "output"; }

namespace {

struct DTypeName {
  std::string_view name;
  size_t size;
};
constexpr DTypeName kDTypes[] = {{"float32", 4}, {"float16", 2}, {"bfloat16", 2}, {"fp8", 1}, {"int8", 1},
                                 {"int32", 4},   {"int64", 8},   {"bool", 1},     {"uint8", 1}};

}  // namespace

std::string dims_str(const Shape& s, bool wildcard) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += wildcard && s[i] == -2 ? std::string("*") : std::to_string(s[i]);
  }
  return out + "]";
}

bool is_known_dtype(std::string_view dtype) noexcept {
  for (const auto& d : kDTypes)
    if (d.name == dtype) return true;
  return false;
}

size_t manifest_dtype_size(std::string_view dtype) {
  for (const auto& d : kDTypes)
    if (d.name == dtype) return d.size;
  fail(ErrorCode::InvalidEngine, "unknown manifest dtype \"" + std::string(dtype) + "\"");
}

const IoTensorSpec* EngineSpec::find_io(std::string_view tensor) const {
  for (const auto& t : io)
    if (t.name == tensor) return &t;
  return nullptr;
}

const IoTensorSpec& EngineSpec::io_tensor(std::string_view tensor) const {
  const IoTensorSpec* t = find_io(tensor);
  if (!t) fail(ErrorCode::InvalidEngine, "engine " + name + ": manifest lists no tensor " + std::string(tensor));
  return *t;
}

int EngineSpec::profile_index(std::string_view profile) const {
  for (size_t i = 0; i < profiles.size(); ++i)
    if (profiles[i].name == profile) return static_cast<int>(i);
  return -1;
}

uint64_t KvCacheSpec::bytes() const {
  return 2ull * static_cast<uint64_t>(layers * kv_heads * capacity * head_dim) * manifest_dtype_size(dtype);
}

const EngineSpec& EngineManifest::engine(std::string_view name) const {
  auto it = engines.find(name);
  if (it == engines.end()) fail(ErrorCode::InvalidEngine, "manifest has no engine \"" + std::string(name) + "\"");
  return it->second;
}

}  // namespace alp::engine
