#include "core/safetensors.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>

#include "core/error.hpp"

namespace alp {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;
// A safetensors header is three levels deep; anything deeper is hostile and need not be parsed.
constexpr int kMaxHeaderDepth = 8;

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

std::string all_dtype_names() {
  std::string s;
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F8E4M3, DType::I32, DType::I64, DType::U8, DType::F64,
                  DType::BOOL}) {
    if (!s.empty()) s += ", ";
    s += dtype_name(t);
  }
  return s;
}

// Builds "<file>: tensor '<name>': " once per entry so every check below names both.
struct EntryContext {
  std::string prefix;
  [[noreturn]] void fail_with(const std::string& what) const { fail(ErrorCode::InvalidCheckpoint, prefix + what); }
  void check(bool ok, const std::string& what) const {
    if (!ok) fail_with(what);
  }
};

// Non-negative integer from a JSON number; doubles above 2^63 or with a fraction are rejected.
uint64_t non_negative_int(const json::Value& v, const EntryContext& ctx, const std::string& field) {
  ctx.check(v.is_number(), field + " is not a number (expected non-negative integer, got " + kind_name(v) + ")");
  const double d = v.as_number();
  ctx.check(d >= 0 && d < 9223372036854775808.0 && d == static_cast<double>(static_cast<uint64_t>(d)),
            field + " is not a non-negative integer (expected integer in [0, 2^63), got " + json::stringify(v) + ")");
  return static_cast<uint64_t>(d);
}

TensorInfo parse_entry(const std::string& name, const json::Value& entry, uint64_t data_size, const EntryContext& ctx) {
  ctx.check(entry.is_object(), std::string("entry is not an object (expected object, got ") + kind_name(entry) + ")");
  TensorInfo info;
  info.name = name;

  const json::Value* dtype = entry.find("dtype");
  ctx.check(dtype != nullptr, "missing field 'dtype'");
  ctx.check(dtype->is_string(), std::string("dtype is not a string (expected string, got ") + kind_name(*dtype) + ")");
  const auto dt = dtype_from_name(dtype->as_string());
  ctx.check(dt.has_value(), "unknown dtype (expected one of " + all_dtype_names() + ", got '" + dtype->as_string() + "')");
  info.dtype = *dt;

  const json::Value* shape = entry.find("shape");
  ctx.check(shape != nullptr, "missing field 'shape'");
  ctx.check(shape->is_array(), std::string("shape is not an array (expected array, got ") + kind_name(*shape) + ")");
  uint64_t numel = 1;
  for (size_t i = 0; i < shape->as_array().size(); ++i) {
    const std::string field = "shape[" + std::to_string(i) + "]";
    const uint64_t d = non_negative_int(shape->as_array()[i], ctx, field);
    ctx.check(!__builtin_mul_overflow(numel, d, &numel) && numel <= static_cast<uint64_t>(INT64_MAX),
              "shape element count overflows (expected < 2^63 elements, got shape " + json::stringify(*shape) + ")");
    info.shape.push_back(static_cast<int64_t>(d));
  }
  uint64_t nbytes = 0;
  ctx.check(!__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(info.dtype)), &nbytes),
            "byte size overflows (expected < 2^64 bytes, got shape " + json::stringify(*shape) + ")");

  const json::Value* offsets = entry.find("data_offsets");
  ctx.check(offsets != nullptr, "missing field 'data_offsets'");
  ctx.check(offsets->is_array(),
            std::string("data_offsets is not an array (expected array, got ") + kind_name(*offsets) + ")");
  ctx.check(offsets->as_array().size() == 2,
            "data_offsets has wrong length (expected 2, got " + std::to_string(offsets->as_array().size()) + ")");
  info.begin = non_negative_int(offsets->as_array()[0], ctx, "data_offsets[0]");
  info.end = non_negative_int(offsets->as_array()[1], ctx, "data_offsets[1]");
  ctx.check(info.begin <= info.end, "data_offsets reversed (expected begin <= end, got [" + std::to_string(info.begin) +
                                        ", " + std::to_string(info.end) + "])");
  ctx.check(info.end <= data_size, "data_offsets past the data section (expected end <= " + std::to_string(data_size) +
                                       ", got " + std::to_string(info.end) + ")");
  ctx.check(info.end - info.begin == nbytes,
            "byte range does not match dtype and shape (expected " + std::to_string(nbytes) + " bytes for " +
                std::string(dtype_name(info.dtype)) + " " + shape_str(info.shape) + ", got " +
                std::to_string(info.end - info.begin) + ")");
  return info;
}

}  // namespace

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto file = MappedFile::open(path, ErrorCode::InvalidCheckpoint);
  const uint64_t size = file->size();
  auto bad = [&](const std::string& what) { fail(ErrorCode::InvalidCheckpoint, path + ": " + what); };
  if (size < 8) bad("file too short for the header length prefix (expected >= 8 bytes, got " + std::to_string(size) + ")");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | file->data()[i];  // little-endian regardless of host
  if (n == 0) bad("header length is zero (expected > 0)");
  if (n > kMaxHeaderBytes)
    bad("header length too large (expected <= " + std::to_string(kMaxHeaderBytes) + ", got " + std::to_string(n) + ")");
  if (n > size - 8)
    bad("header length past end of file (expected <= " + std::to_string(size - 8) + ", got " + std::to_string(n) + ")");

  json::Value root;
  try {
    root = json::parse(std::string_view(reinterpret_cast<const char*>(file->data()) + 8, n), kMaxHeaderDepth);
  } catch (const Error& e) {
    bad(std::string("header: ") + e.what());
  }
  if (!root.is_object()) bad(std::string("header is not a JSON object (expected object, got ") + kind_name(root) + ")");

  struct Constructible : SafetensorsFile {};
  auto st = std::make_shared<Constructible>();
  const uint64_t data_size = size - 8 - n;
  st->data_section_ = file->data() + 8 + n;
  st->data_offset_ = 8 + n;
  for (const auto& [name, entry] : root.as_object()) {
    if (name == "__metadata__") {
      if (!entry.is_object())
        bad(std::string("__metadata__ is not an object (expected object, got ") + kind_name(entry) + ")");
      for (const auto& [k, v] : entry.as_object()) {
        if (!v.is_string())
          bad("__metadata__: value of '" + k + "' is not a string (expected string, got " + kind_name(v) + ")");
        st->metadata_.emplace(k, v.as_string());
      }
      continue;
    }
    const EntryContext ctx{path + ": tensor '" + name + "': "};
    st->tensors_.emplace(name, parse_entry(name, entry, data_size, ctx));
  }

  // Two names over the same bytes would alias weights; a sorted sweep finds any overlap in O(n log n).
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(st->tensors_.size());
  for (const auto& [name, info] : st->tensors_) by_offset.push_back(&info);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  const TensorInfo* furthest = nullptr;
  for (const TensorInfo* t : by_offset) {
    if (furthest && t->begin < furthest->end)
      bad("tensor '" + t->name + "': byte range overlaps tensor '" + furthest->name + "' (expected begin >= " +
          std::to_string(furthest->end) + ", got " + std::to_string(t->begin) + ")");
    if (!furthest || t->end > furthest->end) furthest = t;
  }
  st->file_ = std::move(file);
  return st;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Tensor SafetensorsFile::tensor(std::string_view name) const {
  const TensorInfo* info = find(name);
  require(info != nullptr, ErrorCode::InvalidCheckpoint, path() + ": missing tensor '" + std::string(name) + "'");
  const uint8_t* p = data_section_ + info->begin;
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(info->dtype) != 0) {
    // Writers are not obliged to align tensors; typed access to misaligned memory is undefined, so such
    // (rare) tensors are copied once instead of viewed.
    Tensor owned(info->dtype, info->shape);
    if (owned.nbytes()) std::memcpy(owned.mutable_data(), p, owned.nbytes());
    return owned;
  }
  return Tensor::view(info->dtype, info->shape, p, file_);
}

Tensor SafetensorsFile::read_tensor(std::string_view name) const {
  const TensorInfo* info = find(name);
  require(info != nullptr, ErrorCode::InvalidCheckpoint, path() + ": missing tensor '" + std::string(name) + "'");
  Tensor owned(info->dtype, info->shape);
  if (owned.nbytes()) {
    try {
      file_->read_at(data_offset_ + info->begin, {static_cast<uint8_t*>(owned.mutable_data()), owned.nbytes()});
    } catch (const Error& e) {
      fail(e.code(), "tensor '" + std::string(name) + "': " + e.what());
    }
  }
  return owned;
}

// ---- writer -------------------------------------------------------------------------------------

namespace {
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
}  // namespace

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json::Object header;
  if (!metadata.empty()) {
    json::Object meta;
    for (const auto& [k, v] : metadata) meta.emplace(k, json::Value(v));
    header.emplace("__metadata__", json::Value(std::move(meta)));
  }
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    require(t.name != "__metadata__", ErrorCode::InvalidInput, path + ": tensor name '__metadata__' is reserved");
    json::Array shape;
    for (int64_t d : t.tensor.shape()) shape.emplace_back(d);
    const uint64_t end = offset + t.tensor.nbytes();
    json::Object entry{{"dtype", json::Value(std::string(dtype_name(t.tensor.dtype())))},
                       {"shape", json::Value(std::move(shape))},
                       {"data_offsets", json::Value(json::Array{json::Value(static_cast<int64_t>(offset)),
                                                                json::Value(static_cast<int64_t>(end))})}};
    require(header.emplace(t.name, json::Value(std::move(entry))).second, ErrorCode::InvalidInput,
            path + ": duplicate tensor name '" + t.name + "'");
    offset = end;
  }
  std::string text = json::stringify(json::Value(std::move(header)));
  text.append((8 - text.size() % 8) % 8, ' ');  // data section starts 8-aligned

  // Write beside the target and rename, so a failed write never leaves a truncated file under `path`.
  const std::string tmp = path + ".partial";
  auto io_fail = [&](const char* what) {
    const std::string msg = path + ": cannot " + what + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    fail(ErrorCode::Internal, msg);
  };
  {
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
    if (!f) io_fail("create");
    uint8_t prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
    bool ok = std::fwrite(prefix, 1, 8, f.get()) == 8 && std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
    for (const auto& t : tensors)
      ok = ok && (t.tensor.nbytes() == 0 || std::fwrite(t.tensor.data(), 1, t.tensor.nbytes(), f.get()) == t.tensor.nbytes());
    if (!ok) io_fail("write");
    if (std::fclose(f.release()) != 0) io_fail("close");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) io_fail("rename into place");
}

}  // namespace alp
