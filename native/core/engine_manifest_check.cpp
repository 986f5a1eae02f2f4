#include "core/engine_manifest_check.hpp"

#include <cctype>
#include <filesystem>
#include <set>

#include "core/error.hpp"
#include "core/precision.hpp"

namespace alp::engine {
namespace {

[[noreturn]] void invalid(const std::string& msg) { fail(ErrorCode::InvalidEngine, msg); }

// Appends rather than `"\"" + std::string(s)`, which trips GCC 12's -Wrestrict false positive.
std::string q(std::string_view s) {
  std::string r;
  r.reserve(s.size() + 2);
  r += '"';
  r += s;
  r += '"';
  return r;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// "10.16.0" -> {10, 16}; patch and build parts are allowed and ignored.
std::pair<int, int> parse_version(const EngineSpec& e) {
  const std::string& v = e.tensorrt_version;
  const size_t dot = v.find('.');
  const size_t dot2 = dot == std::string::npos ? std::string::npos : v.find('.', dot + 1);
  const std::string_view major = std::string_view(v).substr(0, dot);
  const std::string_view minor =
      dot == std::string::npos ? std::string_view{} : std::string_view(v).substr(dot + 1, dot2 - dot - 1);
  if (!all_digits(major) || !all_digits(minor) || major.size() > 4 || minor.size() > 4)
    invalid("engine " + e.name + ": tensorrt_version " + q(v) + " is not MAJOR.MINOR[.PATCH]");
  return {std::stoi(std::string(major)), std::stoi(std::string(minor))};
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)) && !(c >= 'a' && c <= 'f')) return false;
  return true;
}

std::string where(const EngineSpec& e, std::string_view tensor) {
  return "engine " + e.name + " tensor " + std::string(tensor);
}

// Contract of one required tensor. rank < 0: any rank. dims: -2 = any, else exact (-1 = dynamic).
struct Required {
  std::string name;
  TensorMode mode;
  std::string dtype;
  Shape dims;
};

void require_tensor(const EngineSpec& e, const Required& r) {
  const IoTensorSpec* t = e.find_io(r.name);
  if (!t) invalid("engine " + e.name + ": manifest io lacks required tensor " + r.name);
  if (t->mode != r.mode)
    invalid(where(e, r.name) + ": mode " + tensor_mode_name(t->mode) + ", expected " + tensor_mode_name(r.mode));
  if (t->dtype != r.dtype) invalid(where(e, r.name) + ": dtype " + t->dtype + ", expected " + r.dtype);
  bool ok = t->shape.size() == r.dims.size();
  for (size_t i = 0; ok && i < r.dims.size(); ++i) ok = r.dims[i] == -2 || r.dims[i] == t->shape[i];
  if (!ok) invalid(where(e, r.name) + ": shape " + dims_str(t->shape) + ", expected " + dims_str(r.dims, true));
}

const ProfileRange* range_of(const OptimizationProfile& p, std::string_view input) {
  auto it = p.inputs.find(input);
  return it == p.inputs.end() ? nullptr : &it->second;
}

void validate_profiles(const EngineSpec& e) {
  if (e.profiles.empty()) invalid("engine " + e.name + ": no optimization profiles");
  std::set<std::string> seen;
  for (const auto& p : e.profiles) {
    if (!seen.insert(p.name).second) invalid("engine " + e.name + ": duplicate profile " + q(p.name));
    for (const auto& [name, r] : p.inputs) {
      const std::string at = "engine " + e.name + " profile " + q(p.name) + " input " + name;
      const IoTensorSpec* t = e.find_io(name);
      if (!t || t->mode != TensorMode::Input) invalid(at + ": not an input tensor of the engine");
      const size_t rank = t->shape.size();
      if (r.min.size() != rank || r.opt.size() != rank || r.max.size() != rank)
        invalid(at + ": min/opt/max rank must be " + std::to_string(rank));
      for (size_t i = 0; i < rank; ++i) {
        if (r.min[i] < 0 || r.min[i] > r.opt[i] || r.opt[i] > r.max[i])
          invalid(at + ": dim " + std::to_string(i) + " needs 0 <= min <= opt <= max, got " + dims_str(r.min) +
                  " / " + dims_str(r.opt) + " / " + dims_str(r.max));
        if (t->shape[i] >= 0 && (r.min[i] != t->shape[i] || r.max[i] != t->shape[i]))
          invalid(at + ": dim " + std::to_string(i) + " is static " + std::to_string(t->shape[i]) +
                  " but the profile gives " + std::to_string(r.min[i]) + ".." + std::to_string(r.max[i]));
      }
    }
    // TensorRT needs a range for every dynamic input in every profile.
    for (const auto& t : e.io) {
      if (t.mode != TensorMode::Input) continue;
      bool dynamic = false;
      for (int64_t d : t.shape) dynamic = dynamic || d < 0;
      if (dynamic && !p.inputs.count(t.name))
        invalid("engine " + e.name + " profile " + q(p.name) + ": no range for dynamic input " + t.name);
    }
  }
}

// The in-place cache holds kv_cache.capacity rows per lane, bound at that size in every profile; the
// prefill/decode profiles the runner selects must exist and take its call shapes: prefill one lane,
// decode one token per lane.
void validate_kv_profiles(const EngineSpec& e, int64_t capacity) {
  for (const auto& p : e.profiles) {
    const ProfileRange* past = range_of(p, names::past_key(0));
    if (past && (past->min[2] != capacity || past->max[2] != capacity))
      invalid("engine " + e.name + " profile " + q(p.name) + ": past_key.0 capacity " + std::to_string(past->min[2]) + ".." +
              std::to_string(past->max[2]) + ", expected kv_cache.capacity " + std::to_string(capacity));
    const ProfileRange* wi = range_of(p, names::kKvWriteIndex);
    if (past && wi && (past->min[0] != wi->min[0] || past->max[0] != wi->max[0]))
      invalid("engine " + e.name + " profile " + q(p.name) + ": past_key.0 lanes " + std::to_string(past->min[0]) + ".." +
              std::to_string(past->max[0]) + " differ from kv_write_index " + std::to_string(wi->min[0]) + ".." +
              std::to_string(wi->max[0]));
  }
}

void validate_llm_profiles(const EngineSpec& llm, int64_t capacity) {
  const int prefill = llm.profile_index("prefill"), decode = llm.profile_index("decode");
  if (prefill < 0 || decode < 0) invalid("engine llm: needs optimization profiles named \"prefill\" and \"decode\"");
  validate_kv_profiles(llm, capacity);
  const OptimizationProfile& pf = llm.profiles[static_cast<size_t>(prefill)];
  if (const ProfileRange* ids = range_of(pf, names::kInputIds); ids && ids->max[0] > capacity)
    invalid("engine llm profile \"prefill\": seq max " + std::to_string(ids->max[0]) + " exceeds kv_cache.capacity " +
            std::to_string(capacity));
  if (const ProfileRange* wi = range_of(pf, names::kKvWriteIndex); wi && wi->max[0] != 1)
    invalid("engine llm profile \"prefill\": kv_write_index lanes max " + std::to_string(wi->max[0]) +
            ", prefill writes the prompt once (1 lane)");
  const OptimizationProfile& d = llm.profiles[static_cast<size_t>(decode)];
  const ProfileRange* ids = range_of(d, names::kInputIds);
  const ProfileRange* wi = range_of(d, names::kKvWriteIndex);
  if (ids && wi && (ids->min[0] != wi->min[0] || ids->max[0] != wi->max[0]))
    invalid("engine llm profile \"decode\": input_ids range " + dims_str(ids->min) + ".." + dims_str(ids->max) +
            " is not one token per lane (kv_write_index " + dims_str(wi->min) + ".." + dims_str(wi->max) + ")");
  if (const ProfileRange* img = range_of(d, names::kImagePositions); img && img->min[0] > 0)
    invalid("engine llm profile \"decode\": image_positions min " + std::to_string(img->min[0]) +
            ", decode feeds 0 image rows");
}

void validate_engine_fields(const EngineSpec& e) {
  if (e.file.empty() || e.file.front() == '/' || e.file.find("..") != std::string::npos)
    invalid("engine " + e.name + ": file " + q(e.file) + " must be a relative path inside the engines directory");
  if (!is_known_precision(e.precision))
    invalid("engine " + e.name + ": precision " + q(e.precision) + ", expected fp32, fp16, bf16 or fp8");
  std::set<std::string> seen;
  for (const auto& t : e.io)
    if (!seen.insert(t.name).second) invalid("engine " + e.name + ": tensor " + t.name + " listed twice");
  // An exported, not yet built engine (build-engines without TensorRT) has no plan facts to check;
  // the runner refuses it at load (check_built).
  if (!e.built) {
    if (e.onnx.empty()) invalid("engine " + e.name + ": built is false but no onnx graph is named");
    return;
  }
  parse_version(e);
  const ComputeCapability cc = parse_compute_capability(e.compute_capability, "engine " + e.name + " compute_capability");
  if (cc.value() < min_compute_capability(e.precision).value())
    invalid("engine " + e.name + ": precision " + e.precision + " cannot run on " + e.compute_capability + " (needs " +
            sm_name(min_compute_capability(e.precision)) + "+)");
  if (!is_hex64(e.sha256)) invalid("engine " + e.name + ": sha256 must be 64 lowercase hex digits");
}

bool is_float_dtype(std::string_view d) { return d == "float32" || d == "float16" || d == "bfloat16"; }

// The KV layers an engine reads: past_key.0 .. past_key.(n-1) with no gap.
int64_t kv_layers_of(const EngineSpec& e) {
  int64_t n = 0;
  while (e.find_io(names::past_key(n))) ++n;
  return n;
}

}  // namespace

ComputeCapability parse_compute_capability(std::string_view sm, std::string_view what) {
  const std::string_view digits = sm.substr(sm.size() >= 3 ? 3 : sm.size());
  if (sm.substr(0, 3) != "sm_" || !all_digits(digits) || digits.size() < 2 || digits.size() > 3)
    invalid(std::string(what) + " " + q(sm) + " is not of the form sm_XY (e.g. sm_90)");
  const int v = std::stoi(std::string(digits));
  return {v / 10, v % 10};
}

std::string sm_name(ComputeCapability cc) { return "sm_" + std::to_string(cc.value()); }

bool is_known_precision(std::string_view p) noexcept { return find_precision(p).has_value(); }

ComputeCapability min_compute_capability(std::string_view precision) {
  if (precision == "fp8") return {8, 9};
  if (precision == "bf16") return {8, 0};
  return {7, 0};
}

void validate_manifest(const EngineManifest& m) {
  const KvCacheSpec& kv = m.kv_cache;
  if (kv.layers <= 0 || kv.kv_heads <= 0 || kv.head_dim <= 0 || kv.capacity <= 0)
    invalid("kv_cache: layers, kv_heads, head_dim and capacity must be positive, got " + std::to_string(kv.layers) +
            ", " + std::to_string(kv.kv_heads) + ", " + std::to_string(kv.head_dim) + ", " + std::to_string(kv.capacity));
  if (!is_float_dtype(kv.dtype)) invalid("kv_cache.dtype " + q(kv.dtype) + ", expected float32, float16 or bfloat16");
  if (kv.update != "in_place")
    invalid("kv_cache.update " + q(kv.update) + ", this runner drives \"in_place\" (past_key.N in, present_key.N = "
            "TensorScatter(past, new, kv_write_index) out, one buffer; engines/README.md)");
  if (m.hidden_size <= 0 || m.vocab_size <= 0) invalid("model.hidden_size and model.vocab_size must be positive");
  if (m.model_config_sha256.empty()) invalid("model_config_sha256 is empty");

  for (const char* name : {names::kVision, names::kLlm, names::kExpert}) (void)m.engine(name);
  for (const auto& [name, e] : m.engines) validate_engine_fields(e);

  const int64_t H = m.hidden_size;
  const auto I = TensorMode::Input;
  const auto O = TensorMode::Output;
  const EngineSpec& vision = m.engine(names::kVision);
  const EngineSpec& llm = m.engine(names::kLlm);
  const EngineSpec& expert = m.engine(names::kExpert);

  // Image features travel from the vision outputs to the llm inputs in one buffer, so both sides
  // must agree on the dtype; the rest of the activations are float32 host tables and results.
  const IoTensorSpec* embeds = vision.find_io(names::kImageEmbeds);
  const std::string act = embeds ? embeds->dtype : "float32";
  if (!is_float_dtype(act))
    invalid("engine vision tensor image_embeds: dtype " + act + ", expected float32, float16 or bfloat16");
  const IoTensorSpec* ds = vision.find_io(names::kDeepstackEmbeds);
  const int64_t n_deepstack = ds && ds->shape.size() == 3 ? ds->shape[0] : -2;

  for (const Required& r : {Required{names::kPixelValues, I, "float32", {-1, -2}},
                            Required{names::kVisionPosIdx, I, "int64", {-1, 4}},
                            Required{names::kVisionPosW, I, "float32", {-1, 4}},
                            Required{names::kVisionRopeCos, I, "float32", {-1, -2}},
                            Required{names::kVisionRopeSin, I, "float32", {-1, -2}},
                            Required{names::kImageEmbeds, O, act, {-1, H}},
                            Required{names::kDeepstackEmbeds, O, act, {-2, -1, H}}})
    require_tensor(vision, r);

  for (const Required& r : {Required{names::kInputIds, I, "int64", {-1}},
                            Required{names::kRopeCos, I, "float32", {-1, kv.head_dim}},
                            Required{names::kRopeSin, I, "float32", {-1, kv.head_dim}},
                            Required{names::kImagePositions, I, "int64", {-1}},
                            Required{names::kImageEmbeds, I, act, {-1, H}},
                            Required{names::kDeepstackEmbeds, I, act, {n_deepstack, -1, H}},
                            Required{names::kKvWriteIndex, I, "int64", {-1}},
                            Required{names::kLogits, O, "float32", {-1, m.vocab_size}}})
    require_tensor(llm, r);

  // x / velocity [lanes * n_waypoints, action_dims] and the expert's rope rows [lanes * n_waypoints, head_dim].
  const IoTensorSpec* x = expert.find_io(names::kX);
  const int64_t action_dims = x && x->shape.size() == 2 ? x->shape[1] : -2;
  for (const Required& r : {Required{names::kX, I, "float32", {-1, -2}},
                            Required{names::kT, I, "float32", {1, 1}},
                            Required{names::kExpertRopeCos, I, "float32", {-1, -2}},
                            Required{names::kExpertRopeSin, I, "float32", {-1, -2}},
                            Required{names::kKvWriteIndex, I, "int64", {-1}},
                            Required{names::kVelocity, O, "float32", {-1, action_dims}}})
    require_tensor(expert, r);
  if (action_dims <= 0) invalid("engine expert_step tensor x: shape " + dims_str(x->shape) + " must be [rows, action_dims]");

  // [lanes, kv_heads, capacity, head_dim]: the capacity is static (IKVCacheUpdateLayer needs it).
  const Shape kv_shape{-1, kv.kv_heads, kv.capacity, kv.head_dim};
  for (int64_t l = 0; l < kv.layers; ++l) {
    for (const std::string& n : {names::past_key(l), names::past_value(l)}) require_tensor(llm, {n, I, kv.dtype, kv_shape});
    for (const std::string& n : {names::present_key(l), names::present_value(l)})
      require_tensor(llm, {n, O, kv.dtype, kv_shape});
  }
  if (llm.find_io(names::past_key(kv.layers)) || llm.find_io(names::present_key(kv.layers)))
    invalid("kv_cache.layers = " + std::to_string(kv.layers) + " but engine llm has a tensor " + names::past_key(kv.layers));
  // The expert reads the backbone cache of its own layers (a prefix of the backbone's) in place and
  // writes its action rows past each lane's prefix (scratch rows, aliased like the llm's).
  const int64_t expert_layers = kv_layers_of(expert);
  if (expert_layers == 0) invalid("engine expert_step: manifest io lacks required tensor " + names::past_key(0));
  if (expert_layers > kv.layers)
    invalid("engine expert_step: reads " + std::to_string(expert_layers) + " KV layers, kv_cache.layers is " +
            std::to_string(kv.layers));
  for (int64_t l = 0; l < expert_layers; ++l) {
    for (const std::string& n : {names::past_key(l), names::past_value(l)}) require_tensor(expert, {n, I, kv.dtype, kv_shape});
    for (const std::string& n : {names::present_key(l), names::present_value(l)})
      require_tensor(expert, {n, O, kv.dtype, kv_shape});
  }

  for (const auto& [name, e] : m.engines) validate_profiles(e);
  validate_llm_profiles(llm, kv.capacity);
  validate_kv_profiles(expert, kv.capacity);
}

void check_built(const EngineSpec& e) {
  if (!e.built)
    invalid("engine " + e.name + ": manifest says built = false (only " + (e.onnx.empty() ? e.file : e.onnx) +
            " was exported); build the plan with TensorRT on this GPU (alpamayo-trt build-engines, engines/README.md)");
}

void check_model_dims(const EngineManifest& m, const ModelDims& d) {
  const auto same = [](const char* field, int64_t manifest, int64_t model) {
    if (manifest != model)
      invalid(std::string(field) + " = " + std::to_string(manifest) + " in the manifest, the checkpoint config has " +
              std::to_string(model) + " (engines built for another model)");
  };
  same("model.hidden_size", m.hidden_size, d.hidden_size);
  same("model.vocab_size", m.vocab_size, d.vocab_size);
  same("kv_cache.layers", m.kv_cache.layers, d.layers);
  same("kv_cache.kv_heads", m.kv_cache.kv_heads, d.kv_heads);
  same("kv_cache.head_dim", m.kv_cache.head_dim, d.head_dim);
  const IoTensorSpec& x = m.engine(names::kExpert).io_tensor(names::kX);
  if (x.shape != Shape{-1, d.action_dims})
    invalid("engine expert_step tensor x: shape " + dims_str(x.shape) + ", the checkpoint config has " +
            dims_str({-1, d.action_dims}));
}

void check_tensorrt_version(const EngineSpec& e, int runtime_major, int runtime_minor) {
  const auto [major, minor] = parse_version(e);
  if (major != runtime_major || minor != runtime_minor)
    invalid("engine " + e.name + ": tensorrt_version " + e.tensorrt_version + " (built with " + std::to_string(major) +
            "." + std::to_string(minor) + ") but the TensorRT runtime is " + std::to_string(runtime_major) + "." +
            std::to_string(runtime_minor) + "; rebuild the engines with this TensorRT (engines/README.md)");
}

void check_gpu(const EngineSpec& e, ComputeCapability gpu, std::string_view device_name) {
  const ComputeCapability need = min_compute_capability(e.precision);
  if (gpu.value() < need.value())
    fail(ErrorCode::BackendUnavailable, "engine " + e.name + ": precision " + e.precision + " needs " + sm_name(need) +
                                            " or newer, but " + std::string(device_name) + " is " + sm_name(gpu));
  const ComputeCapability built = parse_compute_capability(e.compute_capability, "engine " + e.name + " compute_capability");
  if (built.value() != gpu.value())
    invalid("engine " + e.name + ": compute_capability " + e.compute_capability + " but the GPU (" +
            std::string(device_name) + ") is " + sm_name(gpu) + "; rebuild the engines on this GPU");
}

std::string engine_file_path(const EngineSpec& e, const std::string& dir) {
  const std::string path = dir + "/" + e.file;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    invalid("engine " + e.name + ": file " + path + " does not exist" + (ec ? " (" + ec.message() + ")" : ""));
  return path;
}

void check_checksum(const EngineSpec& e, std::string_view actual) {
  if (actual != e.sha256)
    invalid("engine " + e.name + ": sha256 of " + e.file + " is " + std::string(actual) + ", manifest expects " +
            e.sha256 + " (file corrupt or from another build)");
}

void check_io_tensors(const EngineSpec& e, std::span<const IoTensorSpec> actual) {
  for (const auto& want : e.io) {
    const IoTensorSpec* got = nullptr;
    for (const auto& a : actual)
      if (a.name == want.name) got = &a;
    if (!got) invalid(where(e, want.name) + ": listed in the manifest but missing from the engine");
    if (got->mode != want.mode)
      invalid(where(e, want.name) + ": mode " + tensor_mode_name(got->mode) + " in the engine, manifest says " +
              tensor_mode_name(want.mode));
    if (got->dtype != want.dtype)
      invalid(where(e, want.name) + ": dtype " + got->dtype + " in the engine, manifest says " + want.dtype);
    if (got->shape != want.shape)
      invalid(where(e, want.name) + ": shape " + dims_str(got->shape) + " in the engine, manifest says " +
              dims_str(want.shape));
  }
  for (const auto& a : actual)
    if (!e.find_io(a.name)) invalid(where(e, a.name) + ": present in the engine but not listed in the manifest");
}

void check_profile_range(const EngineSpec& e, int index, std::string_view input, const ProfileRange& actual) {
  if (index < 0 || static_cast<size_t>(index) >= e.profiles.size())
    invalid("engine " + e.name + ": profile index " + std::to_string(index) + " but the manifest lists " +
            std::to_string(e.profiles.size()) + " profiles");
  const OptimizationProfile& p = e.profiles[static_cast<size_t>(index)];
  auto it = p.inputs.find(input);
  if (it == p.inputs.end()) return;  // static input: TensorRT reports its fixed shape, nothing to compare
  const ProfileRange& want = it->second;
  if (want.min != actual.min || want.opt != actual.opt || want.max != actual.max)
    invalid("engine " + e.name + " profile " + q(p.name) + " input " + std::string(input) + ": engine min/opt/max " +
            dims_str(actual.min) + " / " + dims_str(actual.opt) + " / " + dims_str(actual.max) + ", manifest says " +
            dims_str(want.min) + " / " + dims_str(want.opt) + " / " + dims_str(want.max));
}

}  // namespace alp::engine
