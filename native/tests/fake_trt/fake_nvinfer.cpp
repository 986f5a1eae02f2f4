// The recording fake of TensorRT's runtime (see fake_runtime.hpp): the nvinfer1 methods declared in
// fake_nvinfer_api.hpp, over engines described by the exporter's manifest.
#include <NvInferRuntime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "core/engine_manifest.hpp"
#include "tests/fake_trt/fake_runtime.hpp"

namespace fake_trt {

using alp::Shape;
namespace N = alp::engine::names;
// The in-place KV contract's per-lane write rows (i64 [lanes]); spelled here so the fake also serves
// the concat contract, whose names:: lacks it.
constexpr const char* kKvWriteIndex = "kv_write_index";

struct Tensor {
  std::string name;
  bool input = true;
  nvinfer1::DataType dtype = nvinfer1::DataType::kFLOAT;
  size_t elem = 4;
  Shape shape;  // -1: dynamic
};

class RuntimeState {
 public:
  nvinfer1::ILogger* logger = nullptr;
  int live_engines = 0;
  void error(const std::string& msg) const {
    if (logger) logger->log(nvinfer1::ILogger::Severity::kERROR, msg.c_str());
  }
};

class EngineState {
 public:
  RuntimeState* runtime = nullptr;
  alp::engine::EngineSpec spec;
  std::string kv_update;
  int device = 0;
  std::vector<Tensor> io;
  int live_contexts = 0;
  const Tensor* find(const char* name) const {
    if (!name) return nullptr;
    for (const auto& t : io)
      if (t.name == name) return &t;
    return nullptr;
  }
  void error(const std::string& msg) const { runtime->error("engine " + spec.name + ": " + msg); }
};

class ContextState {
 public:
  EngineState* engine = nullptr;
  int id = 0;
  bool user_managed = false;
  void* memory = nullptr;
  int64_t memory_size = 0;
  int profile = 0;
  uint64_t profile_epoch = 0;  // bumped by every profile selection
  struct SetShape {
    Shape shape;
    uint64_t epoch;
  };
  std::map<std::string, SetShape> shapes;
  bool shapes_pending = false;  // input shapes set since the last enqueue
  std::map<std::string, void*> addresses;
  std::set<std::string> warmed;                      // profile + shapes enqueued outside a capture
  std::map<uint64_t, std::map<std::string, void*>> captured;  // capture id -> addresses enqueued in it
  std::string label() const { return engine->spec.name + " context " + std::to_string(id) + " (profile " + std::to_string(profile) + ")"; }
};

namespace {

std::set<const ContextState*>& live_contexts() {
  static std::set<const ContextState*> s;
  return s;
}

std::string dims_str(const Shape& s) { return alp::engine::dims_str(s); }

std::string ptr_str(const void* p) {
  std::ostringstream os;
  os << p;
  return os.str();
}

nvinfer1::DataType dtype_of(const std::string& d, size_t* elem) {
  using T = nvinfer1::DataType;
  static const std::map<std::string, std::pair<T, size_t>> m = {
      {"float32", {T::kFLOAT, 4}}, {"float16", {T::kHALF, 2}}, {"bfloat16", {T::kBF16, 2}}, {"fp8", {T::kFP8, 1}},
      {"int8", {T::kINT8, 1}},     {"int32", {T::kINT32, 4}},  {"int64", {T::kINT64, 8}},   {"bool", {T::kBOOL, 1}},
      {"uint8", {T::kUINT8, 1}}};
  auto it = m.find(d);
  if (it == m.end()) {
    fake::violation(fake::kApi, "manifest dtype " + d + " has no TensorRT DataType");
    *elem = 1;
    return T::kUINT8;
  }
  *elem = it->second.second;
  return it->second.first;
}

nvinfer1::Dims to_dims(const Shape& s) {
  nvinfer1::Dims d{};
  d.nbDims = static_cast<int32_t>(s.size());
  for (size_t i = 0; i < s.size(); ++i) d.d[i] = s[i];
  return d;
}
nvinfer1::Dims invalid_dims() {
  nvinfer1::Dims d{};
  d.nbDims = -1;
  return d;
}

int64_t elements(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}
bool resolved(const Shape& s) {
  return std::all_of(s.begin(), s.end(), [](int64_t d) { return d >= 0; });
}

// "past_key.3" -> (3, false); "present_value.0" -> (0, true); other names -> nullopt.
std::optional<std::pair<int64_t, bool>> kv_name(const std::string& name, const char* key_prefix, const char* value_prefix) {
  for (const bool value : {false, true}) {
    const std::string p = std::string(value ? value_prefix : key_prefix) + ".";
    if (name.rfind(p, 0) == 0) return std::make_pair(std::stoll(name.substr(p.size())), value);
  }
  return std::nullopt;
}

// The shape an input has now: the set shape, or the static one (-1 where unset).
Shape input_shape(const ContextState& c, const Tensor& t) {
  auto it = c.shapes.find(t.name);
  return it != c.shapes.end() ? it->second.shape : t.shape;
}

// The input an output is TensorRT's alias of (an in-place KV cache: present_* of past_*), or null.
const Tensor* aliased_input(const EngineState& e, const std::string& output) {
  if (e.kv_update != "in_place") return nullptr;
  auto kv = kv_name(output, "present_key", "present_value");
  if (!kv) return nullptr;
  const Tensor* t = e.find((kv->second ? N::past_value(kv->first) : N::past_key(kv->first)).c_str());
  return t && t->input ? t : nullptr;
}

// Output shapes follow from the input shapes by the graph contract (engines/README.md): an aliased
// output has its input's shape; image features have patches / merge rows; the concat KV has
// past_len + seq rows; logits have a row per lane (kv_write_index) and velocity is x's shape.
// Anything else dynamic is unknown to the fake: it says so.
Shape output_shape(const ContextState& c, const Tensor& t) {
  Shape s = t.shape;
  const EngineState& e = *c.engine;
  auto in_shape = [&](const std::string& name) -> Shape {
    const Tensor* x = e.find(name.c_str());
    return x && x->input ? input_shape(c, *x) : Shape{};
  };
  auto in_dim = [&](const std::string& name, size_t axis) -> int64_t {
    const Shape sh = in_shape(name);
    return axis < sh.size() ? sh[axis] : -1;
  };
  if (resolved(s)) return s;
  if (const Tensor* in = aliased_input(e, t.name)) return input_shape(c, *in);
  if (t.name == N::kVelocity && in_shape(N::kX).size() == s.size()) return in_shape(N::kX);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] >= 0) continue;
    if (auto kv = kv_name(t.name, "present_key", "present_value"); kv && i == 0 && e.kv_update == "concat") {
      const std::string past = kv->second ? N::past_value(kv->first) : N::past_key(kv->first);
      const int64_t p = in_dim(past, 0), n = in_dim(N::kInputIds, 0);
      s[i] = p < 0 || n < 0 ? -1 : p + n;
    } else if ((t.name == N::kImageEmbeds && i == 0) || (t.name == N::kDeepstackEmbeds && i == 1)) {
      // pixel_values [images, patches, ...]: images * patches / merge_unit rows, image after image
      const int64_t b = in_dim(N::kPixelValues, 0), p = in_dim(N::kPixelValues, 1), m = fake::config().merge_unit;
      s[i] = b < 0 || p < 0 ? -1 : b * p / m;
    } else if (t.name == N::kLogits && i == 0 && s.size() == 2 && e.find(kKvWriteIndex)) {
      s[i] = in_dim(kKvWriteIndex, 0);
    } else {
      fake::violation(fake::kApi, "the fake has no shape rule for dynamic axis " + std::to_string(i) + " of output " +
                                      t.name + " of engine " + e.spec.name + " (teach fake_nvinfer.cpp the new contract)");
      return s;
    }
  }
  return s;
}

// Distinct per profile (and per engine), so a block sized for the wrong one is noticed.
int64_t memory_for_profile(const EngineState& e, int profile) {
  return 4096 * (profile + 1) + 256 * static_cast<int64_t>(e.io.size());
}

struct Bound {
  const Tensor* tensor;
  Shape shape;
  uint8_t* ptr;
  size_t bytes() const { return static_cast<size_t>(elements(shape)) * tensor->elem; }
};

// The llm's KV rows read in place must hold what earlier llm calls wrote at those positions; a
// mismatch is reported once per tensor.
bool kv_rows_hold(const ContextState& c, const std::string& tensor, int64_t layer, bool value, const uint8_t* row,
                  size_t row_bytes, int64_t pos, const std::string& where) {
  const uint8_t want = fake::kv_row_byte(layer, value, pos);
  if (std::all_of(row, row + row_bytes, [&](uint8_t x) { return x == want; })) return true;
  fake::violation(fake::kKvContents, c.label() + ": " + tensor + " " + where + " row " + std::to_string(pos) +
                                         " does not hold what the llm wrote for that position (byte " + std::to_string(row[0]) +
                                         ", want " + std::to_string(want) + ")");
  return false;
}

// What the fake engine computes (fake_runtime.hpp, "output rules"), on the snapshot of one enqueue.
void execute(const ContextState& c, const std::vector<Bound>& io) {
  const EngineState& e = *c.engine;
  auto find = [&](const std::string& name) -> const Bound* {
    for (const auto& b : io)
      if (b.tensor->name == name) return &b;
    return nullptr;
  };
  const Bound* ids = find(N::kInputIds);
  const Bound* wi_b = find(kKvWriteIndex);
  std::vector<int64_t> write_index;
  if (wi_b) {
    const auto* w = reinterpret_cast<const int64_t*>(wi_b->ptr);
    write_index.assign(w, w + elements(wi_b->shape));
  }

  const bool has_kv = std::any_of(io.begin(), io.end(), [](const Bound& b) { return kv_name(b.tensor->name, "past_key", "past_value").has_value(); });
  if (has_kv && e.kv_update == "in_place") {
    // past_* [lanes, kv_heads, capacity, head_dim]: lane b's rows [0, write_index[b]) were written by
    // the llm; this call writes rows [write_index[b], + rows per lane) of each lane, through present_*
    // (bound by the runner, normally at past_*'s address).
    const int64_t lanes = static_cast<int64_t>(write_index.size());
    const int64_t new_rows = ids ? elements(ids->shape) : (find(N::kX) ? find(N::kX)->shape.at(0) : 0);
    if (lanes == 0 || new_rows % std::max<int64_t>(lanes, 1) != 0) {
      fake::violation(fake::kApi, c.label() + ": " + std::to_string(new_rows) + " new rows for " + std::to_string(lanes) + " lanes");
      return;
    }
    const int64_t per_lane = new_rows / lanes;
    for (const auto& b : io) {
      if (!b.tensor->input) continue;
      auto kv = kv_name(b.tensor->name, "past_key", "past_value");
      if (!kv || b.shape.size() != 4) continue;
      const int64_t L = b.shape[0], H = b.shape[1], cap = b.shape[2];
      const size_t row_bytes = static_cast<size_t>(b.shape[3]) * b.tensor->elem;
      if (L != lanes) {
        fake::violation(fake::kApi, c.label() + ": " + b.tensor->name + " has " + std::to_string(L) + " lanes, kv_write_index " + std::to_string(lanes));
        continue;
      }
      const Bound* out = find(kv->second ? N::present_value(kv->first) : N::present_key(kv->first));
      bool ok = true;
      for (int64_t lane = 0; lane < lanes; ++lane) {
        const int64_t wi = write_index[static_cast<size_t>(lane)];
        if (wi < 0 || wi + per_lane > cap) {
          fake::violation(fake::kApi, c.label() + ": kv_write_index[" + std::to_string(lane) + "] = " + std::to_string(wi) + " + " +
                                          std::to_string(per_lane) + " rows exceeds the capacity " + std::to_string(cap));
          ok = false;
          break;
        }
        for (int64_t h = 0; h < H && ok; ++h) {
          const size_t block = static_cast<size_t>(lane * H + h) * static_cast<size_t>(cap);
          for (int64_t r = 0; r < wi && ok; ++r)
            ok = kv_rows_hold(c, b.tensor->name, kv->first, kv->second, b.ptr + (block + static_cast<size_t>(r)) * row_bytes, row_bytes, r,
                              "lane " + std::to_string(lane));
          if (!out) continue;
          for (int64_t r = wi; r < wi + per_lane; ++r)
            std::memset(out->ptr + (block + static_cast<size_t>(r)) * row_bytes,
                        ids ? fake::kv_row_byte(kv->first, kv->second, r) : fake::kExpertRowByte, row_bytes);
        }
      }
    }
  } else {
    // concat: past_* [past_len, kv_heads, head_dim] holds rows [0, past_len).
    for (const auto& b : io) {
      if (!b.tensor->input) continue;
      auto kv = kv_name(b.tensor->name, "past_key", "past_value");
      if (!kv || b.shape.empty()) continue;
      const int64_t rows = b.shape[0];
      const size_t row_bytes = rows > 0 ? b.bytes() / static_cast<size_t>(rows) : 0;
      for (int64_t r = 0; r < rows; ++r)
        if (!kv_rows_hold(c, b.tensor->name, kv->first, kv->second, b.ptr + static_cast<size_t>(r) * row_bytes, row_bytes, r, "")) break;
    }
  }

  for (const auto& b : io) {
    if (b.tensor->input) continue;
    const std::string& name = b.tensor->name;
    if (aliased_input(e, name)) continue;  // written in place above
    if (name == N::kLogits && b.tensor->dtype == nvinfer1::DataType::kFLOAT) {
      // One row per lane; lane r's tokens are the r-th equal share of input_ids.
      const int64_t vocab = b.shape.back(), rows = vocab > 0 ? elements(b.shape) / vocab : 0;
      const int64_t n = ids ? elements(ids->shape) : 0;
      auto* out = reinterpret_cast<float*>(b.ptr);
      std::fill(out, out + rows * vocab, 0.0f);
      for (int64_t r = 0; r < rows && n > 0; ++r) {
        const int64_t last = reinterpret_cast<const int64_t*>(ids->ptr)[(r + 1) * (n / rows) - 1];
        for (int64_t i = 0; i < vocab; ++i) out[r * vocab + i] = fake::logit(last, i, vocab);
      }
    } else if (name == N::kVelocity && b.tensor->dtype == nvinfer1::DataType::kFLOAT) {
      const Bound* t = find(N::kT);
      const float tv = t ? *reinterpret_cast<const float*>(t->ptr) : 0.0f;
      auto* out = reinterpret_cast<float*>(b.ptr);
      for (int64_t i = 0; i < elements(b.shape); ++i) out[i] = tv + fake::velocity_bias(i);
    } else if (auto kv = kv_name(name, "present_key", "present_value"); kv && e.kv_update == "concat") {
      const Bound* past = find(kv->second ? N::past_value(kv->first) : N::past_key(kv->first));
      const int64_t rows = b.shape.at(0), past_rows = past ? past->shape.at(0) : 0;
      const size_t row_bytes = rows > 0 ? b.bytes() / static_cast<size_t>(rows) : 0;
      if (past_rows > 0) std::memmove(b.ptr, past->ptr, static_cast<size_t>(past_rows) * row_bytes);
      for (int64_t r = past_rows; r < rows; ++r)
        std::memset(b.ptr + static_cast<size_t>(r) * row_bytes, fake::kv_row_byte(kv->first, kv->second, r), row_bytes);
    } else {
      std::memset(b.ptr, 0, b.bytes());
    }
  }
}

}  // namespace
}  // namespace fake_trt

// ---- the fake's rules and plan format -----------------------------------------------------------
namespace fake {

int64_t next_token(int64_t last_id, int64_t vocab) { return ((last_id < 0 ? 0 : last_id) * 7 + 3) % vocab; }
float logit(int64_t last_id, int64_t i, int64_t vocab) {
  if (last_id == config().nan_after_id && i == config().nan_logit_index) return std::nanf("");
  if (i == next_token(last_id, vocab)) return 4.0f;
  return static_cast<float>(2.0 * std::sin(0.37 * static_cast<double>(i) + static_cast<double>(last_id)));
}
float velocity_bias(int64_t i) { return i % 2 == 0 ? -0.125f : 0.25f; }
uint8_t kv_row_byte(int64_t layer, bool value, int64_t pos) {
  return static_cast<uint8_t>(1 + (pos * 13 + layer * 5 + (value ? 3 : 0)) % 250);
}

std::string plan_bytes(const std::string& engine_name) {
  // A header TensorRT's reader gets in host memory, then a body it reads straight to the device.
  std::string header = "FAKETRT1 " + engine_name + "\n";
  header.resize(64, ' ');
  std::string body(3 * 4096 + 17, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);
  return header + body;
}

}  // namespace fake

// ---- nvinfer1 --------------------------------------------------------------------------------------
namespace {

class FakeRuntime final : public nvinfer1::IRuntime {
 public:
  explicit FakeRuntime(nvinfer1::ILogger* logger) {
    mImpl = new fake_trt::RuntimeState;
    mImpl->logger = logger;
  }
  ~FakeRuntime() override {
    if (mImpl->live_engines > 0)
      fake::violation(fake::kApi, "IRuntime destroyed before the " + std::to_string(mImpl->live_engines) + " engines it deserialized");
    delete mImpl;
  }
};

class FakeEngine final : public nvinfer1::ICudaEngine {
 public:
  explicit FakeEngine(fake_trt::EngineState* s) { mImpl = s; }
  ~FakeEngine() override {
    if (mImpl->live_contexts > 0)
      fake::violation(fake::kApi, "engine " + mImpl->spec.name + " destroyed before its " + std::to_string(mImpl->live_contexts) + " contexts");
    --mImpl->runtime->live_engines;
    delete mImpl;
  }
};

class FakeContext final : public nvinfer1::IExecutionContext {
 public:
  explicit FakeContext(fake_trt::ContextState* s) {
    mImpl = s;
    fake_trt::live_contexts().insert(s);
  }
  ~FakeContext() override {
    fake_trt::live_contexts().erase(mImpl);
    --mImpl->engine->live_contexts;
    delete mImpl;
  }
};

}  // namespace

extern "C" void* createInferRuntime_INTERNAL(void* logger, int32_t version) noexcept {
  (void)version;
  return static_cast<nvinfer1::IRuntime*>(new FakeRuntime(static_cast<nvinfer1::ILogger*>(logger)));
}
extern "C" int32_t getInferLibMajorVersion() noexcept { return fake::config().trt_major; }
extern "C" int32_t getInferLibMinorVersion() noexcept { return fake::config().trt_minor; }
extern "C" int32_t getInferLibPatchVersion() noexcept { return fake::config().trt_patch; }
extern "C" int32_t getInferLibBuildVersion() noexcept { return 0; }

namespace nvinfer1 {

ICudaEngine* IRuntime::deserializeCudaEngine(IStreamReaderV2& reader) {
  // TensorRT reads the plan header into host memory and the rest straight to the device, on a
  // stream of its own.
  char header[65] = {};
  if (reader.read(header, 64, nullptr) != 64) {
    mImpl->error("deserializeCudaEngine: short read of the plan header");
    return nullptr;
  }
  std::istringstream is(header);
  std::string magic, name;
  is >> magic >> name;
  const std::string plan = fake::plan_bytes(name);
  const auto& engines = fake::config().manifest.engines;
  auto it = engines.find(name);
  if (magic != "FAKETRT1" || it == engines.end()) {
    mImpl->error("deserializeCudaEngine: not a fake plan for an engine of the manifest ('" + magic + " " + name + "')");
    return nullptr;
  }
  const int64_t body = static_cast<int64_t>(plan.size()) - 64;
  cudaStream_t stream = nullptr;
  void* dev = nullptr;
  if (cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess || cudaMalloc(&dev, static_cast<size_t>(body)) != cudaSuccess) {
    mImpl->error("deserializeCudaEngine: out of fake device memory");
    return nullptr;
  }
  const int64_t got = reader.read(dev, body, stream);
  std::string back(static_cast<size_t>(body), '\0');
  cudaStreamSynchronize(stream);
  cudaMemcpy(back.data(), dev, static_cast<size_t>(body), cudaMemcpyDeviceToHost);
  cudaFree(dev);
  cudaStreamDestroy(stream);
  if (got != body || back != plan.substr(64)) {
    mImpl->error("deserializeCudaEngine: plan body read to the device is wrong (" + std::to_string(got) + " of " +
                 std::to_string(body) + " bytes)");
    return nullptr;
  }
  fake::counters_mut().plan_bytes_read_to_device += body;

  auto* s = new fake_trt::EngineState;
  s->runtime = mImpl;
  s->spec = it->second;
  s->kv_update = fake::config().manifest.kv_cache.update;
  s->device = fake::current_device();
  for (const auto& t : s->spec.io) {
    fake_trt::Tensor x;
    x.name = t.name;
    x.input = t.mode == alp::engine::TensorMode::Input;
    x.dtype = fake_trt::dtype_of(t.dtype, &x.elem);
    x.shape = t.shape;
    s->io.push_back(std::move(x));
  }
  ++mImpl->live_engines;
  ++fake::counters_mut().engines;
  return new FakeEngine(s);
}

Dims ICudaEngine::getTensorShape(char const* tensorName) const noexcept {
  const auto* t = mImpl->find(tensorName);
  return t ? fake_trt::to_dims(t->shape) : fake_trt::invalid_dims();
}
DataType ICudaEngine::getTensorDataType(char const* tensorName) const noexcept {
  const auto* t = mImpl->find(tensorName);
  return t ? t->dtype : DataType::kFLOAT;
}
TensorIOMode ICudaEngine::getTensorIOMode(char const* tensorName) const noexcept {
  const auto* t = mImpl->find(tensorName);
  return !t ? TensorIOMode::kNONE : t->input ? TensorIOMode::kINPUT : TensorIOMode::kOUTPUT;
}
char const* ICudaEngine::getAliasedInputTensor(char const* tensorName) const noexcept {
  const auto* t = mImpl->find(tensorName);
  if (!t || t->input) return nullptr;
  const auto* in = fake_trt::aliased_input(*mImpl, t->name);
  return in ? in->name.c_str() : nullptr;
}
int32_t ICudaEngine::getNbIOTensors() const noexcept { return static_cast<int32_t>(mImpl->io.size()); }
char const* ICudaEngine::getIOTensorName(int32_t index) const noexcept {
  return index >= 0 && index < getNbIOTensors() ? mImpl->io[static_cast<size_t>(index)].name.c_str() : nullptr;
}
int32_t ICudaEngine::getNbOptimizationProfiles() const noexcept { return static_cast<int32_t>(mImpl->spec.profiles.size()); }
Dims ICudaEngine::getProfileShape(char const* tensorName, int32_t profileIndex, OptProfileSelector select) const noexcept {
  if (profileIndex < 0 || profileIndex >= getNbOptimizationProfiles() || !tensorName) return fake_trt::invalid_dims();
  const auto& inputs = mImpl->spec.profiles[static_cast<size_t>(profileIndex)].inputs;
  auto it = inputs.find(tensorName);
  if (it == inputs.end()) return fake_trt::invalid_dims();
  return fake_trt::to_dims(select == OptProfileSelector::kMIN ? it->second.min : select == OptProfileSelector::kOPT ? it->second.opt : it->second.max);
}
int64_t ICudaEngine::getDeviceMemorySizeForProfileV2(int32_t profileIndex) const noexcept {
  return fake_trt::memory_for_profile(*mImpl, profileIndex);
}

IExecutionContext* ICudaEngine::createExecutionContext(ExecutionContextAllocationStrategy strategy) noexcept {
  auto* c = new fake_trt::ContextState;
  c->engine = mImpl;
  c->user_managed = strategy == ExecutionContextAllocationStrategy::kUSER_MANAGED;
  c->id = static_cast<int>(++fake::counters_mut().contexts);
  ++mImpl->live_contexts;
  if (fake::current_device() != mImpl->device)
    fake::violation(fake::kStreamDevice, "createExecutionContext of engine " + mImpl->spec.name + " (device " +
                                             std::to_string(mImpl->device) + ") while device " +
                                             std::to_string(fake::current_device()) + " is current");
  return new FakeContext(c);
}

void IExecutionContext::setDeviceMemoryV2(void* memory, int64_t size) noexcept {
  if (!mImpl->user_managed)
    fake::violation(fake::kContextMemory, mImpl->label() + ": setDeviceMemoryV2 on a context not created kUSER_MANAGED");
  if (reinterpret_cast<uintptr_t>(memory) % 256 != 0)
    fake::violation(fake::kAlignment, mImpl->label() + ": context memory " + fake_trt::ptr_str(memory) + " is not 256-byte aligned");
  mImpl->memory = memory;
  mImpl->memory_size = size;
}

bool IExecutionContext::setOptimizationProfileAsync(int32_t profileIndex, cudaStream_t stream) noexcept {
  auto& c = *mImpl;
  const auto& e = *c.engine;
  if (profileIndex < 0 || profileIndex >= static_cast<int32_t>(e.spec.profiles.size())) {
    e.error("setOptimizationProfileAsync: no profile " + std::to_string(profileIndex));
    fake::violation(fake::kApi, c.label() + ": setOptimizationProfileAsync(" + std::to_string(profileIndex) + ") out of range");
    return false;
  }
  if (fake::stream_device(stream) != fake::current_device() || e.device != fake::current_device())
    fake::violation(fake::kStreamDevice, c.label() + ": setOptimizationProfileAsync on a stream of device " +
                                             std::to_string(fake::stream_device(stream)) + ", engine on device " +
                                             std::to_string(e.device) + ", current device " + std::to_string(fake::current_device()));
  if (c.shapes_pending)
    fake::violation(fake::kProfileBeforeShape, c.label() + ": setOptimizationProfileAsync(" + std::to_string(profileIndex) +
                                                   ") after input shapes were set for the next enqueue (TensorRT drops them)");
  c.profile = profileIndex;
  ++c.profile_epoch;
  c.shapes_pending = false;
  c.warmed.clear();
  ++fake::counters_mut().profile_selections;
  return true;
}

bool IExecutionContext::setInputShape(char const* tensorName, Dims const& dims) noexcept {
  auto& c = *mImpl;
  const auto& e = *c.engine;
  const fake_trt::Tensor* t = e.find(tensorName);
  if (!t || !t->input) {
    e.error(std::string("setInputShape: no input tensor ") + (tensorName ? tensorName : "(null)"));
    fake::violation(fake::kApi, c.label() + ": setInputShape of " + (tensorName ? tensorName : "(null)") + ", not an input");
    return false;
  }
  alp::Shape s;
  for (int32_t i = 0; i < dims.nbDims; ++i) s.push_back(dims.d[i]);
  const auto& profile = e.spec.profiles.at(static_cast<size_t>(c.profile));
  auto range = profile.inputs.find(t->name);
  bool ok = s.size() == t->shape.size();
  for (size_t i = 0; ok && i < s.size(); ++i) {
    if (range != profile.inputs.end())
      ok = s[i] >= range->second.min.at(i) && s[i] <= range->second.max.at(i);
    else
      ok = s[i] == t->shape[i];
  }
  if (!ok) {
    const std::string allowed = range != profile.inputs.end()
                                    ? fake_trt::dims_str(range->second.min) + ".." + fake_trt::dims_str(range->second.max)
                                    : fake_trt::dims_str(t->shape);
    e.error("setInputShape: " + t->name + " " + fake_trt::dims_str(s) + " outside profile " + std::to_string(c.profile));
    fake::violation(fake::kShapeInProfile, c.label() + ": " + t->name + " " + fake_trt::dims_str(s) + ", profile \"" +
                                               profile.name + "\" allows " + allowed);
    return false;
  }
  c.shapes[t->name] = fake_trt::ContextState::SetShape{s, c.profile_epoch};
  c.shapes_pending = true;
  return true;
}

Dims IExecutionContext::getTensorShape(char const* tensorName) const noexcept {
  const auto& c = *mImpl;
  const fake_trt::Tensor* t = c.engine->find(tensorName);
  if (!t) return fake_trt::invalid_dims();
  return fake_trt::to_dims(t->input ? fake_trt::input_shape(c, *t) : fake_trt::output_shape(c, *t));
}

bool IExecutionContext::allInputDimensionsSpecified() const noexcept {
  const auto& c = *mImpl;
  for (const auto& t : c.engine->io) {
    if (!t.input || fake_trt::resolved(t.shape)) continue;
    auto it = c.shapes.find(t.name);
    if (it == c.shapes.end() || it->second.epoch != c.profile_epoch) return false;
  }
  return true;
}

bool IExecutionContext::setTensorAddress(char const* tensorName, void* data) noexcept {
  auto& c = *mImpl;
  const fake_trt::Tensor* t = c.engine->find(tensorName);
  if (!t) {
    c.engine->error(std::string("setTensorAddress: no tensor ") + (tensorName ? tensorName : "(null)"));
    fake::violation(fake::kApi, c.label() + ": setTensorAddress of unknown tensor " + (tensorName ? tensorName : "(null)"));
    return false;
  }
  if (reinterpret_cast<uintptr_t>(data) % 256 != 0) {
    c.engine->error("setTensorAddress: " + t->name + " address is not 256-byte aligned");
    fake::violation(fake::kAlignment, c.label() + ": " + t->name + " bound to " + fake_trt::ptr_str(data) + " (" +
                                          std::to_string(reinterpret_cast<uintptr_t>(data) % 256) + " bytes past a 256-byte boundary)");
    return false;
  }
  c.addresses[t->name] = data;
  return true;
}

bool IExecutionContext::enqueueV3(cudaStream_t stream) noexcept {
  using fake_trt::Bound;
  auto& c = *mImpl;
  const auto& e = *c.engine;
  const std::string who = c.label();
  bool ok = true;
  auto fail = [&](const char* rule, const std::string& detail) {
    fake::violation(rule, who + ": enqueueV3: " + detail);
    ok = false;
  };
  const int cur = fake::current_device(), sdev = fake::stream_device(stream);
  if (sdev != cur || e.device != cur)
    fail(fake::kStreamDevice, "stream of device " + std::to_string(sdev) + ", engine on device " + std::to_string(e.device) +
                                  ", current device " + std::to_string(cur));
  // Shapes: every dynamic input set since the profile was selected.
  for (const auto& t : e.io) {
    if (!t.input || fake_trt::resolved(t.shape)) continue;
    auto it = c.shapes.find(t.name);
    if (it == c.shapes.end())
      fail(fake::kShapesSpecified, t.name + " has no shape");
    else if (it->second.epoch != c.profile_epoch)
      fail(fake::kProfileBeforeShape, t.name + "'s shape was set before the optimization profile was (re)selected");
  }
  // Activation memory.
  const int64_t need = fake_trt::memory_for_profile(e, c.profile);
  if (c.user_managed) {
    fake::Allocation a;
    if (!c.memory)
      fail(fake::kContextMemory, "no device memory bound (kUSER_MANAGED)");
    else if (c.memory_size < need)
      fail(fake::kContextMemory, std::to_string(c.memory_size) + " bytes bound, profile " + std::to_string(c.profile) + " needs " + std::to_string(need));
    else if (!fake::find_allocation(c.memory, static_cast<size_t>(c.memory_size), &a) || a.pinned || a.device != e.device)
      fail(fake::kContextMemory, "device memory is not one live allocation of device " + std::to_string(e.device));
  }
  // Addresses: bound, aligned, and the whole tensor inside one allocation of the engine's device.
  std::vector<Bound> io;
  for (const auto& t : e.io) {
    auto it = c.addresses.find(t.name);
    if (it == c.addresses.end() || !it->second) {
      fail(fake::kBoundBeforeEnqueue, t.name + " has no address");
      continue;
    }
    Bound b{&t, t.input ? fake_trt::input_shape(c, t) : fake_trt::output_shape(c, t), static_cast<uint8_t*>(it->second)};
    if (!fake_trt::resolved(b.shape)) {
      fail(fake::kShapesSpecified, t.name + " shape " + fake_trt::dims_str(b.shape) + " is unresolved");
      continue;
    }
    if (reinterpret_cast<uintptr_t>(b.ptr) % 256 != 0) fail(fake::kAlignment, t.name + " at " + fake_trt::ptr_str(b.ptr));
    fake::Allocation a;
    const size_t bytes = std::max<size_t>(b.bytes(), 1);
    if (!fake::find_allocation(b.ptr, bytes, &a) || a.pinned)
      fail(fake::kBufferBounds, t.name + " " + fake_trt::dims_str(b.shape) + " (" + std::to_string(b.bytes()) + " bytes at " +
                                    fake_trt::ptr_str(b.ptr) + ") is not inside one device allocation");
    else if (a.device != e.device)
      fail(fake::kBufferBounds, t.name + " lies on device " + std::to_string(a.device) + ", the engine on device " + std::to_string(e.device));
    io.push_back(b);
  }
  // Outputs are written while inputs are read: no output may share bytes with another tensor, except
  // an output TensorRT aliases to an input, which must be bound at that input's address.
  for (const auto& o : io) {
    if (o.tensor->input) continue;
    const fake_trt::Tensor* alias = fake_trt::aliased_input(e, o.tensor->name);
    for (const auto& x : io) {
      if (&x == &o) continue;
      if (!x.tensor->input && &x < &o) continue;  // that pair was checked from x's side
      if (x.tensor == alias) {
        if (x.ptr != o.ptr) fail(fake::kOverlap, o.tensor->name + " is TensorRT's alias of " + x.tensor->name + " but bound elsewhere");
        continue;
      }
      const auto lo = reinterpret_cast<uintptr_t>(o.ptr), xlo = reinterpret_cast<uintptr_t>(x.ptr);
      if (o.bytes() > 0 && x.bytes() > 0 && lo < xlo + x.bytes() && xlo < lo + o.bytes())
        fail(fake::kOverlap, o.tensor->name + " overlaps " + x.tensor->name);
    }
  }
  if (!ok) {
    e.error("enqueueV3 failed (see the fake's violations)");
    return false;
  }

  // Graphs: a captured enqueue needs a plain one at the same profile and shapes first (TensorRT may
  // allocate or synchronise on the first run after a shape change), and one graph must see one set
  // of addresses per context.
  std::string key = "profile " + std::to_string(c.profile);
  for (const auto& b : io)
    if (b.tensor->input) key += " " + b.tensor->name + fake_trt::dims_str(b.shape);
  const uint64_t capture = fake::capture_id(stream);
  if (capture == 0) {
    c.warmed.insert(key);
  } else {
    if (!c.warmed.count(key))
      fake::violation(fake::kWarmupBeforeCapture, who + ": enqueueV3 captured without a plain enqueue at these shapes first");
    auto [prev, first] = c.captured.emplace(capture, c.addresses);
    if (!first)
      for (const auto& [name, p] : c.addresses)
        if (prev->second.count(name) && prev->second.at(name) != p)
          fake::violation(fake::kGraphAddresses, who + ": " + name + " moved from " + fake_trt::ptr_str(prev->second.at(name)) +
                                                     " to " + fake_trt::ptr_str(p) + " between two enqueues captured into one graph");
  }

  fake::Work w;
  w.what = "enqueueV3(" + e.spec.name + ")";
  w.is_engine = true;
  w.in_flight.context = &c;
  w.in_flight.engine = &e;
  w.in_flight.profile = c.profile;
  if (c.user_managed) {
    w.in_flight.memory_lo = reinterpret_cast<uintptr_t>(c.memory);
    w.in_flight.memory_hi = w.in_flight.memory_lo + static_cast<uintptr_t>(std::max<int64_t>(c.memory_size, 0));
  }
  w.in_flight.label = who;
  const fake_trt::ContextState* cp = &c;
  const std::map<std::string, void*> at_capture = c.addresses;
  const bool replayed = capture != 0;
  const std::string engine_name = e.spec.name;
  w.run = [cp, io, at_capture, replayed, who, engine_name] {
    if (replayed) {
      if (!fake_trt::live_contexts().count(cp)) {
        fake::violation(fake::kApi, who + ": a graph replays an enqueue of a destroyed context");
        return;
      }
      for (const auto& [name, p] : cp->addresses)
        if (at_capture.count(name) && at_capture.at(name) != p)
          fake::violation(fake::kGraphAddresses, who + ": graph launched after " + name + " was rebound from " +
                                                     fake_trt::ptr_str(at_capture.at(name)) + " to " + fake_trt::ptr_str(p) +
                                                     " (the graph still uses the captured address)");
    }
    // A graph replays the captured addresses: they must still be live allocations.
    for (const auto& b : io)
      if (b.bytes() > 0 && !fake::find_allocation(b.ptr, b.bytes(), nullptr)) {  // an empty tensor is never read
        fake::violation(fake::kBufferBounds, who + ": " + b.tensor->name + " at " + fake_trt::ptr_str(b.ptr) +
                                                 " is no longer allocated when the enqueue runs (a graph over a freed buffer)");
        return;
      }
    ++fake::counters_mut().runs_per_engine[engine_name];
    fake_trt::execute(*cp, io);
  };
  c.shapes_pending = false;
  bool captured = false;
  if (!fake::submit(stream, std::move(w), &captured)) {
    e.error("enqueueV3: invalid stream");
    return false;
  }
  ++fake::counters_mut().enqueues;
  if (captured) ++fake::counters_mut().captured_enqueues;
  return ok;
}

}  // namespace nvinfer1
