#include "backends/cuda/cuda_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <array>
#include <limits>

#include "backends/cuda/attention.hpp"
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/cudnn_sdpa.hpp"
#include "backends/cuda/device.hpp"
#include "backends/cuda/layer_kernels.hpp"
#include "backends/cuda/nvidia_libs.hpp"
#include "backends/cuda/weight_convert.hpp"
#include "backends/cuda/op_kernels.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/fp8_scale.hpp"

namespace alp::cuda {

using model::Value;

namespace {

// Returns an arena block when the last Value (or view) over it is dropped.
struct ArenaHold {
  std::shared_ptr<DeviceArena> arena;
  DeviceArena::Block block;
  ArenaHold(std::shared_ptr<DeviceArena> a, DeviceArena::Block b) : arena(std::move(a)), block(b) {}
  ~ArenaHold() { arena->release(block); }
  ArenaHold(const ArenaHold&) = delete;
  ArenaHold& operator=(const ArenaHold&) = delete;
};

struct CudaValue : model::ValueImpl {
  explicit CudaValue(Shape s) : ValueImpl(std::move(s)) {}
  float* f = nullptr;                                  // dense fp32 row-major data, when there is some
  int32_t* idx = nullptr;                              // index values on the device
  std::shared_ptr<const std::vector<int64_t>> host_idx;  // ... and on the host, for bounds checks
  bool is_weight = false;
  std::string name;                                    // weights: checkpoint name (fp8 cache key)
  WeightRef w;                                         // weights: stored form (F32: w.data == f)
  bool head_major = false;                             // KV cache view: [Hkv, capacity, D] storage
  int64_t capacity = 0;
  std::shared_ptr<void> keep;                          // owner of non-arena storage
  std::shared_ptr<ArenaHold> hold;                     // owner of arena storage
  // Weights packed with others into one matrix (preload): rows [row0, row0 + shape[0]) of `fused`.
  std::shared_ptr<const struct FusedGroup> fused;
  int64_t row0 = 0;
};

// One packed matrix [rows, k] of a layer's projections that read the same input.
struct FusedGroup {
  WeightRef w;
  int64_t rows = 0, k = 0;
  int members = 0;
};

const CudaValue& cv(const Value& v, const char* op, const char* arg) {
  auto* c = dynamic_cast<const CudaValue*>(v.get());
  if (!c) fail(ErrorCode::Internal, std::string("cuda ") + op + ": " + arg + " is null or not a CUDA value");
  if (c->hold && c->hold->block.epoch != c->hold->arena->epoch())
    fail(ErrorCode::Internal, std::string("cuda ") + op + ": " + arg + " was made before CudaOps::reset() and is gone");
  return *c;
}
// Device limits and index values: what the front door (model/ops.cpp) cannot check.
[[noreturn]] void device_error(const char* op, const std::string& what) {
  fail(ErrorCode::Internal, std::string("cuda ") + op + ": " + what);
}
int64_t last_dim(const Value& v) { return v->shape.empty() ? 1 : v->shape.back(); }
size_t fbytes(int64_t n) { return static_cast<size_t>(n) * sizeof(float); }

const std::vector<int64_t>& host_ix(const Value& v, const char* op, const char* arg) {
  const CudaValue& c = cv(v, op, arg);
  if (!c.host_idx) fail(ErrorCode::Internal, std::string("cuda ") + op + ": " + arg + " is a float value, expected indices");
  return *c.host_idx;
}

std::shared_ptr<CudaValue> view_of(const CudaValue& base, Shape shape) {
  auto o = std::make_shared<CudaValue>(std::move(shape));
  o->f = base.f;
  o->idx = base.idx;
  o->host_idx = base.host_idx;
  o->is_weight = base.is_weight;
  o->name = base.name;
  o->w = base.w;
  o->head_major = base.head_major;
  o->capacity = base.capacity;
  o->keep = base.keep;
  o->hold = base.hold;
  o->fused = base.fused;
  o->row0 = base.row0;
  return o;
}

}  // namespace

// ---- construction / memory -------------------------------------------------------------------

namespace {
int checked_device(int device) {
  std::string why;
  const int n = device_count(&why);
  if (n <= 0)
    fail(ErrorCode::BackendUnavailable,
         "CUDA backend requested but no CUDA device is available: " + (why.empty() ? std::string("0 devices") : why));
  if (device < 0 || device >= n)
    fail(ErrorCode::InvalidInput, "cuda device " + std::to_string(device) + " does not exist (" + std::to_string(n) + " devices)");
  ALP_CUDA(cudaSetDevice(device));
  return device;
}
}  // namespace

namespace {
thread_local int t_bound_device = -1;  // the device this thread last made current through bind_device
}  // namespace

void CudaOps::bind_device() const {
  if (t_bound_device != options_.device) {
    ALP_CUDA(cudaSetDevice(options_.device));
    t_bound_device = options_.device;
  }
}

CudaOps::CudaOps(model::WeightSource weights, CudaOptions options)
    : source_(std::move(weights)), options_((checked_device(options.device), options)) {
  t_bound_device = options_.device;  // checked_device made it current on this thread
  arena_ = std::make_shared<DeviceArena>(options_.arena_bytes);
  main_staging_ = std::make_unique<HostStaging>(std::max<size_t>(options_.staging_bytes, 4096));
  staging_ = main_staging_.get();
  fp8_amax_ = DeviceBuffer(256);
#if ALPAMAYO_HAVE_CUBLASLT
  if (options_.use_cublaslt && cublaslt_api()) lt_ = std::make_unique<CublasLtGemm>();
#endif
#if ALPAMAYO_HAVE_CUDNN
  // fp32 runs keep the built-in fp32 attention (the CPU executor's arithmetic; cuDNN is bf16/fp16 only).
  if (!options_.use_cudnn) sdpa_unavailable_ = "disabled by options";
  else if (options_.precision == Precision::FP32) sdpa_unavailable_ = "fp32 run";
  else if (!cudnn_available()) sdpa_unavailable_ = cudnn_status().error;
  else sdpa_ = std::make_unique<CudnnSdpa>();
#else
  sdpa_unavailable_ = "not compiled in (cudnn.h was not found at build time)";
#endif
}

CudaOps::~CudaOps() {
  // Destruction usually runs on another thread (the JS thread) than construction: free on our device.
  if (cudaSetDevice(options_.device) == cudaSuccess) t_bound_device = options_.device;
  // Work still queued may read buffers about to be freed.
  cudaStreamSynchronize(stream_.get());
#if ALPAMAYO_HAVE_CUBLASLT
  lt_.reset();
#endif
  sdpa_.reset();
}

std::string CudaOps::libraries() const {
  // fp32 runs keep the fallback GEMM and attention on purpose (the CPU executor's arithmetic).
  std::string gemm;
  if (!options_.use_cublaslt) gemm = "built-in GEMM (cuBLASLt disabled by options)";
  else if (options_.precision == Precision::FP32) gemm = "built-in GEMM (fp32 run)";
  else gemm = nvidia_library_summary(true, false).substr(0, nvidia_library_summary(true, false).find(", built-in attention"));
  const LibraryStatus dnn = cudnn_status();
  std::string attn = sdpa_ ? "cuDNN " + dnn.version + " SDPA" : "built-in attention (cuDNN: " + sdpa_unavailable_ + ")";
  if (sdpa_ && !sdpa_unavailable_.empty()) attn += " (built-in for some calls: " + sdpa_unavailable_ + ")";
  return gemm + ", " + attn;
}

size_t CudaOps::gemm_scratch_bytes() const {
#if ALPAMAYO_HAVE_CUBLASLT
  return lt_ ? lt_->scratch_bytes() : 0;
#else
  return 0;
#endif
}

CudaOps::MemoryScope::MemoryScope(CudaOps& ops, std::shared_ptr<DeviceArena> arena, HostStaging* staging, bool capturing)
    : ops_(ops), prev_arena_(ops.arena_), prev_staging_(ops.staging_), prev_capturing_(ops.capturing_) {
  ops.fused_ = {};  // a stashed fused GEMM output never crosses into or out of a graph's memory
  ops.arena_ = std::move(arena);
  ops.staging_ = staging;
  ops.capturing_ = capturing;
  ops.arena_->set_frozen(capturing);
  ops.staging_->set_frozen(capturing);
}
CudaOps::MemoryScope::~MemoryScope() {
  ops_.fused_ = {};
  ops_.arena_->set_frozen(false);
  ops_.staging_->set_frozen(false);
  ops_.arena_ = std::move(prev_arena_);
  ops_.staging_ = prev_staging_;
  ops_.capturing_ = prev_capturing_;
}

Value CudaOps::alloc(Shape shape) {
  bind_device();
  const int64_t n = shape_numel(shape);
  auto v = std::make_shared<CudaValue>(std::move(shape));
  v->hold = std::make_shared<ArenaHold>(arena_, arena_->allocate(fbytes(n)));
  v->f = static_cast<float*>(v->hold->block.ptr);
  return v;
}

void CudaOps::reset() {
  bind_device();
  fused_ = {};
  arena_->reset();
}

void CudaOps::ensure_decode_workspace(size_t bytes) {
  if (decode_ws_.bytes() >= bytes) return;
  if (capturing_)
    fail(ErrorCode::Internal, "cuda attention: decode workspace of " + std::to_string(bytes) + " bytes needed during graph capture");
  stream_.synchronize();  // the old workspace may still be in use
  ++memory_generation_;   // ... and captured graphs hold its address
  decode_ws_ = DeviceBuffer(bytes);
}

bool CudaOps::gemm_lt(const GemmArgs& a) {
#if ALPAMAYO_HAVE_CUBLASLT
  if (!lt_) return false;
  if (!lt_->fits(a.m, a.k)) {
    if (capturing_)
      fail(ErrorCode::Internal, "cuda linear: GEMM scratch for [" + std::to_string(a.m) + ", " + std::to_string(a.k) +
                                    "] needed during graph capture (the warm-up pass must run the same work first)");
    // Captured graphs hold the old scratch address: they are stale once it is freed (cudaFree waits
    // for queued work); the next denoise drops and recaptures them.
    stream_.synchronize();
    ++memory_generation_;
    lt_->reserve(a.m, a.k);
  }
  return lt_->run(a, stream());
#else
  (void)a;
  return false;
#endif
}

float* CudaOps::device_data(const Value& v) {
  const CudaValue& c = cv(v, "device_data", "v");
  if (c.f && !c.head_major) return c.f;
  fail(ErrorCode::Internal, "cuda device_data: value " + shape_str(v->shape) + " is not dense fp32");
}

std::pair<Value, float*> CudaOps::device_output(Shape shape) {
  Value v = alloc(std::move(shape));
  return {v, static_cast<CudaValue&>(*v).f};
}

Value CudaOps::wrap_device(float* data, Shape shape) {
  auto v = std::make_shared<CudaValue>(std::move(shape));
  v->f = data;
  return v;
}

std::pair<Value, float*> CudaOps::dense(const Value& v, const char* op, const char* arg) {
  const CudaValue& c = cv(v, op, arg);
  if (c.host_idx) fail(ErrorCode::Internal, std::string("cuda ") + op + ": " + arg + " is an index value, expected float");
  if (c.f && !c.head_major) return {v, c.f};
  if (c.is_weight && c.w.dtype == DType::F8E4M3)
    fail(ErrorCode::Internal, std::string("cuda ") + op + ": weight " + c.name +
                                  " was quantised to fp8 at load for linear() but is read by " + op +
                                  " (add it to read_as_table in cuda_ops.cpp)");
  Value o = alloc(v->shape);
  float* p = static_cast<CudaValue&>(*o).f;
  if (c.head_major)
    launch_head_to_token_major(c.f, c.capacity, v->shape.at(0), v->shape.at(1), v->shape.at(2), p, stream());
  else
    launch_widen(c.w, shape_numel(v->shape), p, stream());
  return {o, p};
}

std::pair<Value, WeightRef> CudaOps::weight_operand(const Value& v, const char* op, const char* arg) {
  const CudaValue& c = cv(v, op, arg);
  if (c.is_weight && !(c.w.dtype == DType::F8E4M3))
    return {v, c.w};
  auto [keep, p] = dense(v, op, arg);
  return {keep, WeightRef{p, DType::F32, 1.0f}};
}

// ---- data in / out ---------------------------------------------------------------------------

Value CudaOps::input_impl(std::string_view, Shape shape, std::span<const float> data) {
  bind_device();
  Value v = alloc(std::move(shape));
  if (!data.empty()) {
    void* src = staging_->stage(data.data(), data.size_bytes(), stream());
    ALP_CUDA(cudaMemcpyAsync(static_cast<CudaValue&>(*v).f, src, data.size_bytes(), cudaMemcpyHostToDevice, stream()));
  }
  return v;
}

Value CudaOps::input_index_impl(std::string_view name, Shape shape, std::span<const int64_t> data) {
  bind_device();
  std::vector<int32_t> narrow(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    // Every index is a row of some table; int32 covers any table the device could hold rows of.
    if (data[i] < std::numeric_limits<int32_t>::min() || data[i] > std::numeric_limits<int32_t>::max())
      fail(ErrorCode::InvalidInput, "input " + std::string(name) + ": index " + std::to_string(data[i]) + " does not fit int32");
    narrow[i] = static_cast<int32_t>(data[i]);
  }
  auto v = std::make_shared<CudaValue>(std::move(shape));
  v->hold = std::make_shared<ArenaHold>(arena_, arena_->allocate(narrow.size() * sizeof(int32_t)));
  v->idx = static_cast<int32_t*>(v->hold->block.ptr);
  v->host_idx = std::make_shared<const std::vector<int64_t>>(data.begin(), data.end());
  if (!narrow.empty()) {
    void* src = staging_->stage(narrow.data(), narrow.size() * sizeof(int32_t), stream());
    ALP_CUDA(cudaMemcpyAsync(v->idx, src, narrow.size() * sizeof(int32_t), cudaMemcpyHostToDevice, stream()));
  }
  return v;
}

namespace {
// Matrices the network reads as lookup tables (embedding(), interp_rows()), never as linear()
// operands: fp8 runs keep them in their stored type, as the CPU executor does.
bool read_as_table(std::string_view name) {
  return name.ends_with("embed_tokens.weight") || name.ends_with("pos_embed.weight");
}
}  // namespace

Value CudaOps::weight_impl(std::string_view name) {
  requested_.emplace(name);
  if (auto it = weights_.find(name); it != weights_.end()) return it->second;
  if (capturing_)
    fail(ErrorCode::Internal, "cuda weight " + std::string(name) + ": first requested during graph capture (run the work once first)");
  bind_device();
  Tensor t = source_(name);
  const DType dt = t.dtype();
  if (dt != DType::F32 && dt != DType::BF16 && dt != DType::F16 && dt != DType::F8E4M3)
    fail(ErrorCode::InvalidCheckpoint, "tensor " + std::string(name) + ": dtype " + std::string(dtype_name(dt)) + " is not a float type");

  // Storage per precision; the conversion runs on the device from the checkpoint's own bytes.
  const Precision p = options_.precision;
  const bool matrix = t.shape().size() >= 2;
  DType store = DType::F32, round_through = DType::F32;
  if (matrix && p == Precision::BF16) store = DType::BF16;
  else if (matrix && p == Precision::FP16) store = DType::F16;
  else if (matrix && p == Precision::FP8) store = read_as_table(name) && dt != DType::F8E4M3 ? dt : DType::F8E4M3;
  else if (p == Precision::BF16) round_through = DType::BF16;
  else if (p == Precision::FP16) round_through = DType::F16;
  const int64_t n = shape_numel(t.shape());
  const size_t elem = store == DType::F32 ? 4 : store == DType::F8E4M3 ? 1 : 2;
  const size_t data_bytes = size_t(n) * elem;
  const size_t scale_off = (data_bytes + 255) / 256 * 256;  // fp8: the device scale follows the data
  const size_t bytes = store == DType::F8E4M3 ? scale_off + sizeof(float) : data_bytes;
  auto buf = std::make_shared<DeviceBuffer>(bytes, "weight");
  float host_scale = 1.0f;
  if (n > 0) {
    const bool as_is = store == dt && round_through == DType::F32;
    DeviceBuffer raw;
    const void* src = buf->get();
    if (!as_is) {
      raw = DeviceBuffer(t.nbytes(), "weight upload");
      src = raw.get();
    }
    // Synchronous copy from the checkpoint's (mapped) bytes: load time, and `t` may die at return.
    ALP_CUDA(cudaMemcpyAsync(const_cast<void*>(src), t.data(), t.nbytes(), cudaMemcpyHostToDevice, stream()));
    if (store == DType::F8E4M3) {
      float* scale = reinterpret_cast<float*>(buf->as<char>() + scale_off);
      launch_fp8_quantise(src, dt, n, buf->as<uint8_t>(), scale, fp8_amax_.as<float>(), stream());
      // The fallback GEMM takes the scale by value: one read-back per weight, at load only.
      ALP_CUDA(cudaMemcpyAsync(&host_scale, scale, sizeof(float), cudaMemcpyDeviceToHost, stream()));
    } else if (!as_is) {
      launch_convert(src, dt, n, buf->get(), store, round_through, stream());
    }
    stream_.synchronize();  // `raw` and `t` die at return
  }
  weight_bytes_ += bytes;
  auto v = std::make_shared<CudaValue>(t.shape());
  v->is_weight = true;
  v->name = std::string(name);
  v->w = WeightRef{buf->get(), store, host_scale};
  if (store == DType::F8E4M3) v->w.scale_dev = reinterpret_cast<const float*>(buf->as<char>() + scale_off);
  if (store == DType::F32) v->f = buf->as<float>();
  v->keep = buf;
  weights_.emplace(std::string(name), v);
  return v;
}

void CudaOps::preload(const std::vector<model::ParamSpec>& specs) {
  for (const auto& s : specs) weight(s.name, s.shape);
#if ALPAMAYO_HAVE_CUBLASLT
  if (lt_ && options_.fuse_projections && (options_.precision == Precision::BF16 || options_.precision == Precision::FP16))
    fuse_groups();
#endif
}

void CudaOps::fuse_groups() {
  // q|k|v of each attention and gate|up of each MLP read one input (decoder_layer.cpp). fp8 keeps
  // them apart: each has its own per-tensor scale, as in the CPU executor.
  const std::vector<std::pair<std::string, std::vector<std::string>>> kinds = {
      {"self_attn.q_proj.weight", {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"}},
      {"mlp.gate_proj.weight", {"mlp.gate_proj.weight", "mlp.up_proj.weight"}}};
  std::vector<std::vector<std::string>> groups;
  for (const auto& [name, v] : weights_)
    for (const auto& [first, members] : kinds)
      if (name.size() > first.size() && name.ends_with(first)) {
        const std::string prefix = name.substr(0, name.size() - first.size());
        std::vector<std::string> g;
        for (const std::string& m : members) g.push_back(prefix + m);
        groups.push_back(std::move(g));
      }
  for (const auto& g : groups) {
    std::vector<std::shared_ptr<CudaValue>> ws;
    for (const std::string& n : g) {
      auto it = weights_.find(n);
      if (it == weights_.end()) break;
      ws.push_back(std::static_pointer_cast<CudaValue>(it->second));
    }
    if (ws.size() != g.size()) continue;
    const DType dt = ws[0]->w.dtype;
    const int64_t k = ws[0]->shape.at(1);
    int64_t rows = 0;
    bool ok = dt == DType::BF16 || dt == DType::F16;
    for (const auto& w : ws) {
      ok = ok && w->w.dtype == dt && w->shape.size() == 2 && w->shape[1] == k && !w->fused;
      rows += w->shape[0];
    }
    if (!ok) continue;
    const size_t elem = 2;
    auto buf = std::make_shared<DeviceBuffer>(size_t(rows * k) * elem, "fused projection weights");
    auto grp = std::make_shared<FusedGroup>();
    grp->w = WeightRef{buf->get(), dt, 1.0f};
    grp->rows = rows;
    grp->k = k;
    grp->members = static_cast<int>(ws.size());
    int64_t row0 = 0;
    for (auto& w : ws) {
      const size_t bytes = size_t(w->shape[0] * k) * elem;
      char* dst = buf->as<char>() + size_t(row0 * k) * elem;
      ALP_CUDA(cudaMemcpyAsync(dst, w->w.data, bytes, cudaMemcpyDeviceToDevice, stream()));
      stream_.synchronize();  // the member's own buffer is released below
      w->w.data = dst;
      w->keep = buf;          // the member's own allocation goes with its last reference
      w->fused = grp;
      w->row0 = row0;
      row0 += w->shape[0];
    }
  }
}

std::vector<float> CudaOps::read(std::string_view, const Value& v) {
  bind_device();
  const CudaValue& c = cv(v, "read", "v");
  if (capturing_) fail(ErrorCode::Internal, "cuda read: not allowed during graph capture");
  if (c.host_idx) return std::vector<float>(c.host_idx->begin(), c.host_idx->end());
  auto [keep, p] = dense(v, "read", "v");
  const size_t bytes = fbytes(shape_numel(v->shape));
  if (read_buf_.bytes() < bytes) read_buf_ = PinnedBuffer(std::max(bytes, size_t(1) << 16));
  if (bytes) ALP_CUDA(cudaMemcpyAsync(read_buf_.get(), p, bytes, cudaMemcpyDeviceToHost, stream()));
  stream_.synchronize();
  const float* h = read_buf_.as<float>();
  return std::vector<float>(h, h + bytes / sizeof(float));
}

Value CudaOps::persist(const Value& v) {
  bind_device();
  auto [keep, p] = dense(v, "persist", "v");
  const size_t bytes = fbytes(shape_numel(v->shape));
  auto buf = std::make_shared<DeviceBuffer>(bytes);
  if (bytes) ALP_CUDA(cudaMemcpyAsync(buf->get(), p, bytes, cudaMemcpyDeviceToDevice, stream()));
  auto o = std::make_shared<CudaValue>(v->shape);
  o->f = buf->as<float>();
  o->keep = buf;
  return o;
}

// ---- dense maths -----------------------------------------------------------------------------

Value CudaOps::linear_impl(const Value& x, const Value& w, const Value& b, const Shape& out) {
  const int64_t m = w->shape[0], k = w->shape[1];
  auto [xk, xp] = dense(x, "linear", "x");
  const int64_t n = shape_numel(x->shape) / std::max<int64_t>(k, 1);
  std::pair<Value, float*> bias{nullptr, nullptr};
  if (b) bias = dense(b, "linear", "b");
  Value y = alloc(out);
  float* yp = static_cast<CudaValue&>(*y).f;

  const bool fp8 = options_.precision == Precision::FP8;
  Value xq_keep, wq_keep;
  WeightRef wr;
  const CudaValue& wc = cv(w, "linear", "w");
  if (fp8 && !(wc.is_weight && wc.w.dtype == DType::F8E4M3)) {
    // An operand that is not a load-time-quantised weight: both sides through the CPU executor's
    // e4m3 round trip, fp32 GEMM.
    auto [wk, wp] = dense(w, "linear", "w");
    wq_keep = alloc(w->shape);
    float* wq = static_cast<CudaValue&>(*wq_keep).f;
    launch_fp8_round_trip(wp, wq, m * k, fp8_amax_.as<float>(), stream());
    wr = WeightRef{wq, DType::F32, 1.f};
  } else if (wc.is_weight && wc.w.dtype == DType::F8E4M3) {
    wr = wc.w;  // quantised at load, scale on the device
  } else {
    auto op = weight_operand(w, "linear", "w");
    wq_keep = op.first;
    wr = op.second;
  }
  // A member of a packed group (preload): one GEMM for the whole group, the other members are then
  // served from its output while their input is the same Value.
  if (wc.fused && !b && lt_enabled()) {
    const FusedGroup& grp = *wc.fused;
    if (!(fused_.group == &grp && fused_.x == x)) {
      GemmArgs f;
      f.x = xp;
      f.w = grp.w;
      Value fy = alloc({n, grp.rows});
      f.y = static_cast<CudaValue&>(*fy).f;
      f.m = n, f.n = grp.rows, f.k = k;
      if (gemm_lt(f)) fused_ = {x, fy, &grp, 0};
      else fused_ = {};
    } else {
      ++fused_hits_;
    }
    if (fused_.group == &grp) {
      const float* src = static_cast<const CudaValue&>(*fused_.y).f + wc.row0;
      if (n == 1) {
        // One row: the member's columns are contiguous, a view of the group's output.
        auto o = view_of(static_cast<const CudaValue&>(*fused_.y), y->shape);
        o->f = const_cast<float*>(src);
        y = o;
      } else if (n > 0) {
        ALP_CUDA(cudaMemcpy2DAsync(yp, fbytes(m), src, fbytes(grp.rows), fbytes(m), static_cast<size_t>(n),
                                   cudaMemcpyDeviceToDevice, stream()));
      }
      if (++fused_.served == grp.members) fused_ = {};
      return y;
    }
  }
  GemmArgs a;
  a.x = xp;
  a.w = wr;
  a.bias = bias.second;
  a.y = yp;
  a.m = n;
  a.n = m;
  a.k = k;
  // Tensor cores for narrow weights (X is narrowed/quantised on the device inside gemm_lt).
  if ((wr.dtype == DType::BF16 || wr.dtype == DType::F16 || wr.dtype == DType::F8E4M3) && gemm_lt(a)) return y;
  if (fp8) {
    // Fallback: the activation's per-tensor e4m3 round trip, then the fp32 GEMM (the CPU's rule).
    xq_keep = alloc(x->shape);
    float* xq = static_cast<CudaValue&>(*xq_keep).f;
    launch_fp8_round_trip(xp, xq, n * k, fp8_amax_.as<float>(), stream());
    a.x = xq;
  }
  launch_gemm_fallback(a, stream());
  return y;
}

Value CudaOps::rms_norm_impl(const Value& x, const Value& w, float eps) {
  const int64_t d = last_dim(x);
  auto [xk, xp] = dense(x, "rms_norm", "x");
  auto [wk, wr] = weight_operand(w, "rms_norm", "w");
  Value y = alloc(x->shape);
  launch_rmsnorm(xp, wr, static_cast<CudaValue&>(*y).f, shape_numel(x->shape) / std::max<int64_t>(d, 1), static_cast<int>(d), eps, stream());
  return y;
}

Value CudaOps::layer_norm_impl(const Value& x, const Value& w, const Value& b, float eps) {
  const int64_t d = last_dim(x);
  auto [xk, xp] = dense(x, "layer_norm", "x");
  auto [wk, wr] = weight_operand(w, "layer_norm", "w");
  auto [bk, br] = weight_operand(b, "layer_norm", "b");
  Value y = alloc(x->shape);
  launch_layernorm(xp, wr, br, static_cast<CudaValue&>(*y).f, shape_numel(x->shape) / std::max<int64_t>(d, 1), static_cast<int>(d), eps, stream());
  return y;
}

Value CudaOps::rope_impl(const Value& x, const Value& cos, const Value& sin) {
  const int64_t n = x->shape[0], h = x->shape[1], d = x->shape[2];
  auto [xk, xp] = dense(x, "rope", "x");
  auto [ck, cp] = dense(cos, "rope", "cos");
  auto [sk, sp] = dense(sin, "rope", "sin");
  Value y = alloc(x->shape);
  float* yp = static_cast<CudaValue&>(*y).f;
  if (n * h * d > 0) ALP_CUDA(cudaMemcpyAsync(yp, xp, fbytes(n * h * d), cudaMemcpyDeviceToDevice, stream()));
  launch_rope(yp, cp, sp, n, static_cast<int>(h), static_cast<int>(d), stream());
  return y;
}

Value CudaOps::alloc_bf16(int64_t elems) { return alloc({(elems + 1) / 2}); }

Value CudaOps::attention_cudnn(const Value& q, const Value& k, const Value& v, model::AttentionMask mask, float scale) {
#if ALPAMAYO_HAVE_CUDNN
  const int64_t nq = q->shape[0], hq = q->shape[1], d = q->shape[2], nk = k->shape[0], hkv = k->shape[1];
  if (nq == 0 || nk == 0 || d % 8 != 0) return nullptr;
  // The built-in rule: query i sits at position past + i and sees keys [0, min(nk, past + i + 1)).
  // cuDNN's bottom-right causal mask is that rule when past + nq == nk; a single query is a plain
  // attention over its first past + 1 keys.
  const bool causal = mask.kind == model::AttentionMask::Kind::Causal;
  int64_t kv_len = nk;
  bool bottom_right = false;
  if (causal && nq == 1) kv_len = std::min(nk, mask.past + 1);
  else if (causal && mask.past + nq == nk) bottom_right = true;
  else if (causal) return nullptr;
  const CudaValue& kc = cv(k, "attention", "k");
  const CudaValue& vc = cv(v, "attention", "v");
  const bool cached = kc.head_major && vc.head_major && kc.capacity == vc.capacity;
  if (!cached && kv_len != nk) return nullptr;
  const cudaStream_t s = stream();

  SdpaCall c;
  c.scale = scale;
  c.causal = bottom_right;
  auto [qk, qp] = dense(q, "attention", "q");
  Value qb = alloc_bf16(nq * hq * d);
  launch_narrow_bf16(qp, 0, static_cast<CudaValue&>(*qb).f, 0, 1, nq * hq * d, s);
  const std::array<int64_t, 4> token_major{nq * hq * d, d, hq * d, 1};  // [1, hq, nq, d] over [nq, hq, d]
  c.q = {static_cast<CudaValue&>(*qb).f, {1, hq, nq, d}, token_major};
  Value kb, vb, lens, kkeep, vkeep;
  if (cached) {
    // Rows [0, kv_len) of each head of the fp32 cache, narrowed to bf16 over a row count rounded up
    // to 128 (the rows past kv_len are the zeroed or finite cache tail, hidden by the padding mask
    // whose length is a device value): one cuDNN graph per 128-row bucket, not per decode step.
    const int64_t cap = kc.capacity;
    const int64_t rows = std::min(cap, (kv_len + 127) / 128 * 128);
    kb = alloc_bf16(hkv * rows * d);
    vb = alloc_bf16(hkv * rows * d);
    launch_narrow_bf16(kc.f, cap * d, static_cast<CudaValue&>(*kb).f, rows * d, hkv, rows * d, s);
    launch_narrow_bf16(vc.f, cap * d, static_cast<CudaValue&>(*vb).f, rows * d, hkv, rows * d, s);
    const std::array<int64_t, 4> head_major{hkv * rows * d, rows * d, d, 1};
    c.k = {static_cast<CudaValue&>(*kb).f, {1, hkv, rows, d}, head_major};
    c.v = {static_cast<CudaValue&>(*vb).f, {1, hkv, rows, d}, head_major};
    const int32_t host_lens[2] = {static_cast<int32_t>(nq), static_cast<int32_t>(kv_len)};
    lens = alloc({2});
    void* src = staging_->stage(host_lens, sizeof(host_lens), s);
    ALP_CUDA(cudaMemcpyAsync(static_cast<CudaValue&>(*lens).f, src, sizeof(host_lens), cudaMemcpyHostToDevice, s));
    c.seq_len_q = reinterpret_cast<const int32_t*>(static_cast<CudaValue&>(*lens).f);
    c.seq_len_kv = c.seq_len_q + 1;
  } else {
    auto [ka, kp] = dense(k, "attention", "k");
    auto [va, vp] = dense(v, "attention", "v");
    kkeep = ka, vkeep = va;
    kb = alloc_bf16(nk * hkv * d);
    vb = alloc_bf16(nk * hkv * d);
    launch_narrow_bf16(kp, 0, static_cast<CudaValue&>(*kb).f, 0, 1, nk * hkv * d, s);
    launch_narrow_bf16(vp, 0, static_cast<CudaValue&>(*vb).f, 0, 1, nk * hkv * d, s);
    const std::array<int64_t, 4> kv_token_major{nk * hkv * d, d, hkv * d, 1};
    c.k = {static_cast<CudaValue&>(*kb).f, {1, hkv, nk, d}, kv_token_major};
    c.v = {static_cast<CudaValue&>(*vb).f, {1, hkv, nk, d}, kv_token_major};
  }
  Value ob = alloc_bf16(nq * hq * d);
  c.o = static_cast<CudaValue&>(*ob).f;
  c.o_strides = token_major;
  if (capturing_) {
    if (!sdpa_->prepared(c)) return nullptr;  // the warm-up pass took the built-in path for this key
  } else {
    std::string why;
    if (!sdpa_->prepare(c, &why)) {
      sdpa_unavailable_ = why;
      return nullptr;
    }
  }
  if (sdpa_->reserve_workspace(c, !capturing_)) {
    // Captured graphs hold the old workspace address.
    stream_.synchronize();
    ++memory_generation_;
  }
  sdpa_->run(c, s);
  Value o = alloc(q->shape);
  launch_convert(static_cast<CudaValue&>(*ob).f, DType::BF16, nq * hq * d, static_cast<CudaValue&>(*o).f, DType::F32,
                 DType::F32, s);
  return o;
#else
  (void)q, (void)k, (void)v, (void)mask, (void)scale;
  return nullptr;
#endif
}

Value CudaOps::attention_impl(const Value& q, const Value& k, const Value& v, model::AttentionMask mask, float scale) {
  const int64_t nq = q->shape[0], hq = q->shape[1], d = q->shape[2], nk = k->shape[0], hkv = k->shape[1];
  if (d > 256) device_error("attention", "head_dim " + std::to_string(d) + " > 256 (the kernels' limit)");
  if (sdpa_)
    if (Value o = attention_cudnn(q, k, v, mask, scale)) return o;
  auto [qk, qp] = dense(q, "attention", "q");
  // K/V in the kernels' head-major layout: cache views as they are, anything else transposed.
  auto head_major = [&](const Value& t, const char* arg, Value& keep, int64_t& cap) -> const float* {
    const CudaValue& c = cv(t, "attention", arg);
    if (c.head_major) {
      cap = c.capacity;
      return c.f;
    }
    auto [tk, tp] = dense(t, "attention", arg);
    keep = alloc(t->shape);
    float* o = static_cast<CudaValue&>(*keep).f;
    launch_token_to_head_major(tp, nk, hkv, d, o, nk, 0, stream());
    cap = nk;
    return o;
  };
  Value kk, vk;
  int64_t kcap = 0, vcap = 0;
  const float* kp = head_major(k, "k", kk, kcap);
  const float* vp = head_major(v, "v", vk, vcap);
  if (kcap != vcap) {  // one from the cache, one not: bring both to the dense head-major form
    kk = vk = nullptr;
    auto [a, ap] = dense(k, "attention", "k");
    auto [b, bp] = dense(v, "attention", "v");
    kk = alloc(k->shape);
    vk = alloc(v->shape);
    launch_token_to_head_major(ap, nk, hkv, d, static_cast<CudaValue&>(*kk).f, nk, 0, stream());
    launch_token_to_head_major(bp, nk, hkv, d, static_cast<CudaValue&>(*vk).f, nk, 0, stream());
    kp = static_cast<CudaValue&>(*kk).f;
    vp = static_cast<CudaValue&>(*vk).f;
    kcap = nk;
  }
  AttentionShape sh;
  sh.batch = 1;
  sh.n_heads = static_cast<int>(hq);
  sh.n_kv_heads = static_cast<int>(hkv);
  sh.head_dim = static_cast<int>(d);
  sh.kv_capacity = kcap;
  Value o = alloc(q->shape);
  float* op = static_cast<CudaValue&>(*o).f;
  const bool causal = mask.kind == model::AttentionMask::Kind::Causal;
  if (nq == 1) {
    // Query 0 sits at position `past`: a causal decode query sees keys [0, past + 1).
    const int64_t kv_len = causal ? std::min(nk, mask.past + 1) : nk;
    const size_t ws = attention_decode_workspace_bytes(sh, std::max<int64_t>(kv_len, 1));
    ensure_decode_workspace(ws);
    launch_attention_decode(qp, kp, vp, op, sh, kv_len, scale, decode_ws_.get(), decode_ws_.bytes(), stream());
  } else if (nq > 1) {
    launch_attention_prefill(qp, kp, vp, op, sh, nq, causal ? mask.past : 0, nk, causal, scale, stream());
  }
  return o;
}

// ---- elementwise -----------------------------------------------------------------------------

Value CudaOps::unary(UnaryOp op, const Value& x, float arg, const char* name) {
  auto [xk, xp] = dense(x, name, "x");
  Value y = alloc(x->shape);
  launch_unary(op, xp, static_cast<CudaValue&>(*y).f, shape_numel(x->shape), arg, stream());
  return y;
}
Value CudaOps::silu_impl(const Value& x) { return unary(UnaryOp::Silu, x, 0.f, "silu"); }
Value CudaOps::gelu_tanh_impl(const Value& x) {
  auto [xk, xp] = dense(x, "gelu_tanh", "x");
  Value y = alloc(x->shape);
  launch_gelu_tanh(xp, static_cast<CudaValue&>(*y).f, shape_numel(x->shape), stream());
  return y;
}
Value CudaOps::gelu_erf_impl(const Value& x) { return unary(UnaryOp::GeluErf, x, 0.f, "gelu_erf"); }
Value CudaOps::swiglu_impl(const Value& gate_up, const Shape& out) {
  auto [xk, xp] = dense(gate_up, "swiglu", "gate_up");
  const int64_t inter = out.back(), rows = inter ? shape_numel(out) / inter : 0;
  Value y = alloc(out);
  launch_swiglu(xp, static_cast<CudaValue&>(*y).f, rows, static_cast<int>(inter), stream());
  return y;
}
Value CudaOps::scale_impl(const Value& x, float s) { return unary(UnaryOp::Scale, x, s, "scale"); }

Value CudaOps::add_impl(const Value& a, const Value& b) {
  auto [ak, ap] = dense(a, "add", "a");
  auto [bk, bp] = dense(b, "add", "b");
  Value y = alloc(a->shape);
  launch_binary(BinaryOp::Add, ap, bp, static_cast<CudaValue&>(*y).f, shape_numel(a->shape), shape_numel(b->shape), stream());
  return y;
}
Value CudaOps::mul_impl(const Value& a, const Value& b) {
  auto [ak, ap] = dense(a, "mul", "a");
  auto [bk, bp] = dense(b, "mul", "b");
  Value y = alloc(a->shape);
  launch_binary(BinaryOp::Mul, ap, bp, static_cast<CudaValue&>(*y).f, shape_numel(a->shape), shape_numel(b->shape), stream());
  return y;
}

Value CudaOps::fourier_features_impl(const Value& x, std::span<const float> freqs, const Shape& out) {
  const int64_t n = x->shape[0], c = x->shape[1], f = static_cast<int64_t>(freqs.size());
  auto [xk, xp] = dense(x, "fourier_features", "x");
  Value y = alloc(out);
  launch_fourier_features(xp, n, c, freqs.data(), static_cast<int>(f), static_cast<CudaValue&>(*y).f, stream());
  return y;
}

// ---- indexing / layout -----------------------------------------------------------------------

Value CudaOps::embedding_impl(const Value& table, const Value& ids, const Shape& out) {
  const int64_t v = table->shape[0], d = table->shape[1];
  const auto& id = host_ix(ids, "embedding", "ids");
  for (int64_t i : id)
    if (i < 0 || i >= v) fail(ErrorCode::InvalidInput, "embedding: id " + std::to_string(i) + " outside [0, " + std::to_string(v) + ")");
  auto [tk, tr] = weight_operand(table, "embedding", "table");
  const int64_t n = static_cast<int64_t>(id.size());
  Value y = alloc(out);
  launch_embedding_gather(cv(ids, "embedding", "ids").idx, n, tr, v, static_cast<int>(d), static_cast<CudaValue&>(*y).f, stream());
  return y;
}

Value CudaOps::interp_rows_impl(const Value& table, const Value& idx, const Value& w, const Shape& out) {
  const int64_t n = idx->shape[0], taps = idx->shape[1], v = table->shape[0], d = table->shape[1];
  for (int64_t r : host_ix(idx, "interp_rows", "idx"))
    if (r < 0 || r >= v) device_error("interp_rows", "row " + std::to_string(r) + " outside the table");
  auto [tk, tr] = weight_operand(table, "interp_rows", "table");
  auto [wk, wp] = dense(w, "interp_rows", "w");
  Value y = alloc(out);
  launch_interp_rows(tr, cv(idx, "interp_rows", "idx").idx, wp, n, taps, d, static_cast<CudaValue&>(*y).f, stream());
  return y;
}

namespace {
struct RowUpdate {
  int64_t d, rows, n_idx;
};
// The row indices (values, which the front door cannot see) against x[R, D].
RowUpdate check_row_update(const Value& x, const std::vector<int64_t>& id, const char* op) {
  const int64_t rows = x->shape[0], d = x->shape[1];
  for (int64_t r : id)
    if (r < 0 || r >= rows) device_error(op, "row " + std::to_string(r) + " outside [0, " + std::to_string(rows) + ")");
  return {d, rows, static_cast<int64_t>(id.size())};
}
}  // namespace

Value CudaOps::scatter_rows_impl(const Value& x, const Value& idx, const Value& src) {
  const RowUpdate r = check_row_update(x, host_ix(idx, "scatter_rows", "idx"), "scatter_rows");
  auto [xk, xp] = dense(x, "scatter_rows", "x");
  auto [sk, sp] = dense(src, "scatter_rows", "src");
  Value y = alloc(x->shape);
  float* yp = static_cast<CudaValue&>(*y).f;
  if (r.d * r.rows > 0) ALP_CUDA(cudaMemcpyAsync(yp, xp, fbytes(r.d * r.rows), cudaMemcpyDeviceToDevice, stream()));
  launch_row_update(yp, cv(idx, "scatter_rows", "idx").idx, r.n_idx, sp, r.d, false, stream());
  return y;
}

Value CudaOps::index_add_rows_impl(const Value& x, const Value& idx, const Value& src) {
  const RowUpdate r = check_row_update(x, host_ix(idx, "index_add_rows", "idx"), "index_add_rows");
  auto [xk, xp] = dense(x, "index_add_rows", "x");
  auto [sk, sp] = dense(src, "index_add_rows", "src");
  Value y = alloc(x->shape);
  float* yp = static_cast<CudaValue&>(*y).f;
  if (r.d * r.rows > 0) ALP_CUDA(cudaMemcpyAsync(yp, xp, fbytes(r.d * r.rows), cudaMemcpyDeviceToDevice, stream()));
  launch_row_update(yp, cv(idx, "index_add_rows", "idx").idx, r.n_idx, sp, r.d, true, stream());
  return y;
}

Value CudaOps::slice_impl(const Value& x, int axis, int64_t begin, int64_t end, const Shape& os) {
  const Shape& s = x->shape;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  const CudaValue& c = cv(x, "slice", "x");
  if (outer == 1 && c.f && !c.head_major && !c.host_idx) {
    // A contiguous range: a view sharing the storage.
    auto o = view_of(c, os);
    o->f = c.f + begin * inner;
    o->is_weight = false;
    o->name.clear();
    o->w = WeightRef{o->f, DType::F32, 1.f};
    return o;
  }
  auto [xk, xp] = dense(x, "slice", "x");
  Value y = alloc(os);
  const size_t width = fbytes((end - begin) * inner);
  if (width && outer)
    ALP_CUDA(cudaMemcpy2DAsync(static_cast<CudaValue&>(*y).f, width, xp + begin * inner, fbytes(s[axis] * inner), width,
                               static_cast<size_t>(outer), cudaMemcpyDeviceToDevice, stream()));
  return y;
}

Value CudaOps::concat_impl(const std::vector<Value>& xs, int axis, const Shape& os) {
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= os[i];
  for (size_t i = axis + 1; i < os.size(); ++i) inner *= os[i];
  Value y = alloc(os);
  float* yp = static_cast<CudaValue&>(*y).f;
  int64_t off = 0;
  for (const Value& v : xs) {
    auto [vk, vp] = dense(v, "concat", "x");
    const int64_t w = v->shape[axis] * inner;
    if (w && outer)
      ALP_CUDA(cudaMemcpy2DAsync(yp + off, fbytes(os[axis] * inner), vp, fbytes(w), fbytes(w), static_cast<size_t>(outer),
                                 cudaMemcpyDeviceToDevice, stream()));
    off += w;
  }
  return y;
}

Value CudaOps::reshape_impl(const Value& x, const Shape&, const Shape& shape) {
  const CudaValue& c = cv(x, "reshape", "x");
  if (c.head_major) {
    // A cache view's storage is not row-major in its logical shape.
    auto [keep, p] = dense(x, "reshape", "x");
    return view_of(static_cast<const CudaValue&>(*keep), shape);
  }
  return view_of(c, shape);
}

Value CudaOps::transpose_impl(const Value& x, const std::vector<int>& perm, const Shape& os) {
  const Shape& s = x->shape;
  const size_t r = s.size();
  if (r == 0 || r > static_cast<size_t>(kMaxRank))
    device_error("transpose", "rank " + std::to_string(r) + " outside the kernel's [1, " + std::to_string(kMaxRank) + "]");
  auto [xk, xp] = dense(x, "transpose", "x");
  Value y = alloc(os);
  launch_transpose(xp, s.data(), perm.data(), static_cast<int>(r), static_cast<CudaValue&>(*y).f, stream());
  return y;
}

Value CudaOps::expand_rows_impl(const Value& x, int64_t n, const Shape& out) {
  auto [xk, xp] = dense(x, "expand_rows", "x");
  Value y = alloc(out);
  launch_expand_rows(xp, n, x->shape[1], static_cast<CudaValue&>(*y).f, stream());
  return y;
}

// ---- KV cache --------------------------------------------------------------------------------

void CudaOps::kv_reserve_impl(const model::KvGeometry& g) {
  const int64_t layers = g.layers, capacity = g.capacity, kv_heads = g.kv_heads, head_dim = g.head_dim;
  if (capturing_) fail(ErrorCode::Internal, "kv_reserve during graph capture");
  bind_device();
  stream_.synchronize();  // the old cache may still be read
  ++memory_generation_;   // captured loops read the old cache's addresses
  kv_capacity_ = capacity, kv_heads_ = kv_heads, kv_dim_ = head_dim;
  const size_t bytes = fbytes(capacity * kv_heads * head_dim);
  k_cache_.clear();
  v_cache_.clear();
  lane_k_.clear();
  lane_v_.clear();
  kv_shared_ = 0, kv_lanes_ = 1;
  for (int64_t l = 0; l < layers; ++l)
    for (auto* c : {&k_cache_, &v_cache_}) {
      c->push_back(std::make_shared<DeviceBuffer>(bytes));
      ALP_CUDA(cudaMemsetAsync(c->back()->get(), 0, bytes, stream()));
    }
}

void CudaOps::kv_share_impl(int64_t shared, int64_t lanes) {
  if (capturing_) fail(ErrorCode::Internal, "kv_share during graph capture");
  bind_device();
  const size_t bytes = fbytes((kv_capacity_ - shared) * kv_heads_ * kv_dim_);
  kv_shared_ = shared, kv_lanes_ = lanes;
  // Lane buffers only grow; captured loops bake in their addresses (and the split, which is part of
  // their key), so only a reallocation drops them.
  bool moved = false;
  for (auto* lanes_of : {&lane_k_, &lane_v_}) {
    if (lanes_of->size() < static_cast<size_t>(lanes - 1)) lanes_of->resize(static_cast<size_t>(lanes - 1));
    for (auto& layers : *lanes_of) {
      layers.resize(k_cache_.size());
      for (auto& b : layers)
        if (!b || b->bytes() < bytes) {
          if (!moved) stream_.synchronize();  // the old buffers may still be read
          moved = true;
          b = std::make_shared<DeviceBuffer>(std::max<size_t>(bytes, 4));
        }
    }
  }
  if (moved) ++memory_generation_;
}

void CudaOps::kv_write_impl(int64_t layer, int64_t pos, const Value& k, const Value& v, int64_t lane) {
  const int64_t n = k->shape[0];
  auto [kk, kp] = dense(k, "kv_write", "k");
  auto [vk, vp] = dense(v, "kv_write", "v");
  if (lane == 0) {
    launch_token_to_head_major(kp, n, kv_heads_, kv_dim_, k_cache_[layer]->as<float>(), kv_capacity_, pos, stream());
    launch_token_to_head_major(vp, n, kv_heads_, kv_dim_, v_cache_[layer]->as<float>(), kv_capacity_, pos, stream());
  } else {
    const int64_t tail = kv_capacity_ - kv_shared_, at = pos - kv_shared_;  // lane buffers hold >= tail rows
    const size_t l = static_cast<size_t>(layer), ln = static_cast<size_t>(lane - 1);
    launch_token_to_head_major(kp, n, kv_heads_, kv_dim_, lane_k_[ln][l]->as<float>(), tail, at, stream());
    launch_token_to_head_major(vp, n, kv_heads_, kv_dim_, lane_v_[ln][l]->as<float>(), tail, at, stream());
  }
}

std::pair<Value, Value> CudaOps::kv_read_impl(int64_t layer, int64_t len, int64_t lane) {
  const int64_t common = lane == 0 ? len : std::min(len, kv_shared_);
  auto part = [&](const std::shared_ptr<DeviceBuffer>& c, const std::vector<std::vector<std::shared_ptr<DeviceBuffer>>>& lanes) -> Value {
    if (common == len) {
      auto o = std::make_shared<CudaValue>(Shape{len, kv_heads_, kv_dim_});
      o->f = c->as<float>();
      o->head_major = true;
      o->capacity = kv_capacity_;
      o->keep = c;
      return o;
    }
    // Head-major gather: per head, the shared rows then the lane's own rows (two strided copies).
    Value y = alloc({len, kv_heads_, kv_dim_});
    auto& o = static_cast<CudaValue&>(*y);
    o.head_major = true;
    o.capacity = len;
    const size_t d = fbytes(kv_dim_);
    const auto& own = lanes[static_cast<size_t>(lane - 1)][static_cast<size_t>(layer)];
    const int64_t tail = kv_capacity_ - kv_shared_;
    if (common > 0)
      ALP_CUDA(cudaMemcpy2DAsync(o.f, len * d, c->get(), kv_capacity_ * d, common * d, kv_heads_,
                                 cudaMemcpyDeviceToDevice, stream()));
    ALP_CUDA(cudaMemcpy2DAsync(o.f + common * kv_dim_, len * d, own->get(), tail * d, (len - common) * d, kv_heads_,
                               cudaMemcpyDeviceToDevice, stream()));
    return y;
  };
  return {part(k_cache_[layer], lane_k_), part(v_cache_[layer], lane_v_)};
}

// ---- factory ---------------------------------------------------------------------------------

std::unique_ptr<CudaOps> make_cuda_ops(std::shared_ptr<const Checkpoint> checkpoint, std::string_view precision, int device) {
  if (!checkpoint) fail(ErrorCode::InvalidInput, "make_cuda_ops: null checkpoint");
  CudaOptions o;
  o.precision = parse_precision(precision);
  o.device = device;
  return std::make_unique<CudaOps>([ck = std::move(checkpoint)](std::string_view n) { return ck->tensor(n); }, o);
}

}  // namespace alp::cuda
