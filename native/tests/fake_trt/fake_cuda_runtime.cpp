// The fake CUDA runtime (see fake_runtime.hpp): the cuda* functions the TensorRT runner and
// backends/cuda/resources.cpp call, defined against the real CUDA headers, over host memory.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "tests/fake_trt/fake_runtime.hpp"

// The opaque handle types of the CUDA headers, completed here.
struct CUstream_st {
  int id = 0;
  int device = 0;
  uint64_t seq = 0;  // work items submitted so far
  struct Pending {
    fake::InFlight f;
    uint64_t seq;
  };
  std::vector<Pending> pending;              // engine work not yet synchronised
  std::map<const CUstream_st*, uint64_t> waited;  // other stream -> its seq this stream waited for
  struct Capture* capture = nullptr;
};
struct Capture {
  uint64_t id = 0;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::thread::id thread;
  bool invalidated = false;
  std::string why;
  std::vector<fake::Work> works;
};
struct CUevent_st {
  const CUstream_st* stream = nullptr;
  uint64_t seq = 0;
};
struct CUgraph_st {
  std::vector<fake::Work> works;
};
struct CUgraphExec_st {
  std::vector<fake::Work> works;
  int device = 0;
};

namespace fake {
namespace {

struct State {
  std::recursive_mutex mu;
  Config cfg;
  std::map<uintptr_t, Allocation> allocs;  // by base address
  std::set<CUstream_st*> streams;
  std::map<int, std::unique_ptr<CUstream_st>> default_streams;
  std::vector<Violation> violations;
  Counters counters;
  uint64_t next_capture = 1;
  int next_stream = 1;
};
State& st() {
  static State s;
  return s;
}
thread_local int t_device = 0;
thread_local cudaError_t t_last_error = cudaSuccess;
thread_local cudaStreamCaptureMode t_capture_mode = cudaStreamCaptureModeGlobal;

cudaError_t err(cudaError_t e) {
  if (e != cudaSuccess) t_last_error = e;
  return e;
}

std::string ptr_str(const void* p) {
  std::ostringstream os;
  os << p;
  return os.str();
}

bool is_default(cudaStream_t s) { return s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread; }

// The stream object, or null (an unknown handle, recorded).
CUstream_st* resolve(cudaStream_t s, const char* call) {
  State& S = st();
  if (is_default(s)) {
    auto& d = S.default_streams[t_device];
    if (!d) {
      d = std::make_unique<CUstream_st>();
      d->device = t_device;
      d->id = -1 - t_device;
    }
    return d.get();
  }
  if (!S.streams.count(s)) {
    violation(kApi, std::string(call) + ": unknown or destroyed stream " + ptr_str(s));
    return nullptr;
  }
  return s;
}

// Work on a stream must run on the device the stream belongs to.
bool on_current_device(const CUstream_st* s, const char* call) {
  if (s->device == t_device) return true;
  violation(kStreamDevice, std::string(call) + ": stream " + std::to_string(s->id) + " was created on device " +
                               std::to_string(s->device) + " but device " + std::to_string(t_device) + " is current");
  return false;
}

// A call that a capture in progress forbids (allocation, synchronisation): CUDA fails it and
// invalidates the capture. Global mode: any thread's call; thread-local: the capturing thread's.
bool capture_forbids(const char* call) {
  State& S = st();
  bool hit = false;
  for (CUstream_st* s : S.streams) {
    Capture* c = s->capture;
    if (!c || c->mode == cudaStreamCaptureModeRelaxed) continue;
    if (c->mode == cudaStreamCaptureModeThreadLocal && c->thread != std::this_thread::get_id()) continue;
    if (t_capture_mode == cudaStreamCaptureModeRelaxed && c->thread == std::this_thread::get_id()) continue;
    c->invalidated = true;
    c->why = call;
    hit = true;
  }
  if (hit) violation(kCaptureUnsafe, std::string(call) + " while a stream capture is in progress");
  return hit;
}

bool overlaps(uintptr_t a_lo, uintptr_t a_hi, uintptr_t b_lo, uintptr_t b_hi) {
  return a_lo < b_hi && b_lo < a_hi && a_lo != a_hi && b_lo != b_hi;
}

// Engine work about to run on `s`: nothing in flight on another stream (and not ordered before
// `s` by an event wait) may use the same context, the same profile of the same engine, or the
// same activation memory.
void check_in_flight(CUstream_st* s, const InFlight& f) {
  State& S = st();
  auto scan = [&](CUstream_st* o) {
    if (o == s) return;
    const uint64_t ordered = s->waited.count(o) ? s->waited.at(o) : 0;
    for (const auto& p : o->pending) {
      if (p.seq <= ordered) continue;
      const char* why = p.f.context == f.context ? "the same context"
                        : (p.f.engine == f.engine && p.f.profile == f.profile) ? "the same engine profile"
                        : overlaps(p.f.memory_lo, p.f.memory_hi, f.memory_lo, f.memory_hi) ? "the same activation memory"
                                                                                         : nullptr;
      if (why)
        violation(kProfileInFlight, f.label + " on stream " + std::to_string(s->id) + " while " + p.f.label + " (" + why +
                                        ") is still in flight on stream " + std::to_string(o->id));
    }
  };
  for (CUstream_st* o : S.streams) scan(o);
  for (auto& [d, o] : S.default_streams) scan(o.get());
}

void run_now(CUstream_st* s, Work& w) {
  if (w.is_engine) check_in_flight(s, w.in_flight);
  w.run();
  ++s->seq;
  if (w.is_engine) s->pending.push_back({w.in_flight, s->seq});
}

void complete(CUstream_st* s, uint64_t up_to) {
  auto& p = s->pending;
  p.erase(std::remove_if(p.begin(), p.end(), [&](const CUstream_st::Pending& x) { return x.seq <= up_to; }), p.end());
}

// Bounds of a device-side range of a copy: inside one allocation of the current device.
bool device_range(const void* p, size_t bytes, const char* call, const char* side) {
  Allocation a;
  if (!find_allocation(p, bytes, &a) || a.pinned) {
    violation(kBufferBounds, std::string(call) + ": " + side + " " + ptr_str(p) + " + " + std::to_string(bytes) +
                                 " bytes is not inside one device allocation");
    return false;
  }
  if (a.device != t_device) {
    violation(kBufferBounds, std::string(call) + ": " + side + " lies on device " + std::to_string(a.device) +
                                 ", device " + std::to_string(t_device) + " is current");
    return false;
  }
  return true;
}

// Which side of a copy is device memory and which is page-locked host memory, decided when the copy
// is submitted (a graph replays it later, by then a pinned buffer may have been freed).
struct CopySides {
  bool dst_dev = false, src_dev = false, dst_pinned = false, src_pinned = false;
};
CopySides copy_sides(const void* dst, const void* src, cudaMemcpyKind kind) {
  Allocation a;
  CopySides c;
  const bool dst_alloc = find_allocation(dst, 1, &a);
  const bool dst_is_pinned = dst_alloc && a.pinned;
  const bool src_alloc = find_allocation(src, 1, &a);
  const bool src_is_pinned = src_alloc && a.pinned;
  c.dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice || (kind == cudaMemcpyDefault && dst_alloc && !dst_is_pinned);
  c.src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice || (kind == cudaMemcpyDefault && src_alloc && !src_is_pinned);
  c.dst_pinned = !c.dst_dev && dst_is_pinned;
  c.src_pinned = !c.src_dev && src_is_pinned;
  return c;
}
bool pinned_range(const void* p, size_t bytes, const char* call, const char* side) {
  Allocation a;
  if (find_allocation(p, bytes, &a) && a.pinned) return true;
  violation(kBufferBounds, std::string(call) + ": " + side + " " + ptr_str(p) + " + " + std::to_string(bytes) +
                               " bytes is no longer inside one page-locked host allocation");
  return false;
}
bool sides_ok(const void* dst, size_t dst_bytes, const void* src, size_t src_bytes, const CopySides& c, const char* call) {
  if (dst_bytes == 0 && src_bytes == 0) return true;
  return (!c.dst_dev || device_range(dst, dst_bytes, call, "destination")) &&
         (!c.src_dev || device_range(src, src_bytes, call, "source")) &&
         (!c.dst_pinned || pinned_range(dst, dst_bytes, call, "destination")) &&
         (!c.src_pinned || pinned_range(src, src_bytes, call, "source"));
}
bool copy_ranges_ok(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* call) {
  return sides_ok(dst, bytes, src, bytes, copy_sides(dst, src, kind), call);
}

cudaError_t submit_or_fail(cudaStream_t stream, Work w) {
  return submit(stream, std::move(w), nullptr) ? cudaSuccess : err(cudaErrorInvalidResourceHandle);
}

}  // namespace

// ---- test-facing API ----------------------------------------------------------------------------

void configure(Config c) {
  State& S = st();
  std::lock_guard<std::recursive_mutex> lock(S.mu);
  S.cfg = std::move(c);
  S.violations.clear();
  S.counters = {};
  S.counters.live_allocations = static_cast<int64_t>(S.allocs.size());
  S.default_streams.clear();
  t_device = 0;
}
const Config& config() { return st().cfg; }

std::vector<Violation> violations() {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  return st().violations;
}
void clear_violations() {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  st().violations.clear();
}
std::string violations_text() {
  std::string out;
  for (const auto& v : violations()) out += "  [" + v.rule + "] " + v.detail + "\n";
  return out;
}
void violation(const char* rule, std::string detail) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (st().violations.size() < 200) st().violations.push_back({rule, std::move(detail)});
}
Counters& counters_mut() { return st().counters; }
Counters counters() {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  Counters c = st().counters;
  c.live_allocations = static_cast<int64_t>(st().allocs.size());
  return c;
}

int current_device() { return t_device; }

int stream_device(void* stream) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (is_default(static_cast<cudaStream_t>(stream))) return t_device;
  auto* s = static_cast<CUstream_st*>(stream);
  return st().streams.count(s) ? s->device : -1;
}

bool find_allocation(const void* p, size_t bytes, Allocation* out) {
  State& S = st();
  std::lock_guard<std::recursive_mutex> lock(S.mu);
  const auto v = reinterpret_cast<uintptr_t>(p);
  auto it = S.allocs.upper_bound(v);
  if (it == S.allocs.begin()) return false;
  --it;
  const Allocation& a = it->second;
  if (v < a.base || v + bytes > a.base + a.bytes) return false;
  if (out) *out = a;
  return true;
}

bool submit(void* stream, Work work, bool* captured) {
  State& S = st();
  std::lock_guard<std::recursive_mutex> lock(S.mu);
  CUstream_st* s = resolve(static_cast<cudaStream_t>(stream), work.what.c_str());
  if (!s || !on_current_device(s, work.what.c_str())) return false;
  if (s->capture) {
    s->capture->works.push_back(std::move(work));
    if (captured) *captured = true;
    return true;
  }
  if (captured) *captured = false;
  run_now(s, work);
  return true;
}

uint64_t capture_id(void* stream) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (is_default(static_cast<cudaStream_t>(stream))) return 0;
  auto* s = static_cast<CUstream_st*>(stream);
  return st().streams.count(s) && s->capture ? s->capture->id : 0;
}

}  // namespace fake

// ---- the CUDA runtime API -------------------------------------------------------------------------
using fake::err;
using fake::st;
using fake::t_device;

extern "C" {

cudaError_t cudaGetDeviceCount(int* count) {
  *count = st().cfg.device_count;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= st().cfg.device_count) return err(cudaErrorInvalidDevice);
  t_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = t_device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device < 0 || device >= st().cfg.device_count) return err(cudaErrorInvalidDevice);
  std::memset(prop, 0, sizeof(*prop));
  std::snprintf(prop->name, sizeof(prop->name), "%s", st().cfg.gpu_name.c_str());
  prop->major = st().cfg.cc_major;
  prop->minor = st().cfg.cc_minor;
  prop->totalGlobalMem = size_t{80} << 30;
  prop->multiProcessorCount = 132;
  prop->warpSize = 32;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaGetLastError(void) { return std::exchange(fake::t_last_error, cudaSuccess); }
cudaError_t cudaPeekAtLastError(void) { return fake::t_last_error; }
const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    default: return "cudaError(fake)";
  }
}
const char* cudaGetErrorString(cudaError_t e) { return cudaGetErrorName(e); }

// ---- memory ------------------------------------------------------------------------------------

static cudaError_t fake_alloc(void** p, size_t bytes, bool pinned, const char* call) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (fake::capture_forbids(call)) return err(cudaErrorStreamCaptureUnsupported);
  if (bytes == 0) {
    *p = nullptr;
    return cudaSuccess;
  }
  const size_t rounded = (bytes + 255) / 256 * 256;
  void* m = std::aligned_alloc(256, rounded);
  if (!m) return err(cudaErrorMemoryAllocation);
  // Fresh device memory is garbage: all-ones bytes are NaN in every float type, so an output the
  // fake engine never wrote does not pass for a result.
  std::memset(m, 0xff, rounded);
  const auto base = reinterpret_cast<uintptr_t>(m);
  st().allocs[base] = fake::Allocation{base, bytes, pinned ? -1 : t_device, pinned};
  *p = m;
  return cudaSuccess;
}

static cudaError_t fake_free(void* p, bool pinned, const char* call) {
  if (!p) return cudaSuccess;
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (fake::capture_forbids(call)) return err(cudaErrorStreamCaptureUnsupported);
  auto it = st().allocs.find(reinterpret_cast<uintptr_t>(p));
  if (it == st().allocs.end() || it->second.pinned != pinned) {
    fake::violation(fake::kApi, std::string(call) + " of " + fake::ptr_str(p) + ", which it did not allocate");
    return err(cudaErrorInvalidValue);
  }
  st().allocs.erase(it);
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, size_t bytes) { return fake_alloc(p, bytes, false, "cudaMalloc"); }
cudaError_t cudaFree(void* p) { return fake_free(p, false, "cudaFree"); }
cudaError_t cudaMallocHost(void** p, size_t bytes) { return fake_alloc(p, bytes, true, "cudaMallocHost"); }
cudaError_t cudaFreeHost(void* p) { return fake_free(p, true, "cudaFreeHost"); }

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* ptr) {
  std::memset(attr, 0, sizeof(*attr));
  fake::Allocation a;
  if (fake::find_allocation(ptr, 1, &a)) {
    attr->type = a.pinned ? cudaMemoryTypeHost : cudaMemoryTypeDevice;
    attr->device = a.pinned ? t_device : a.device;
    attr->devicePointer = a.pinned ? nullptr : const_cast<void*>(ptr);
    attr->hostPointer = a.pinned ? const_cast<void*>(ptr) : nullptr;
  } else {
    attr->type = cudaMemoryTypeUnregistered;
    attr->device = -2;
  }
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (fake::capture_forbids("cudaMemcpy")) return err(cudaErrorStreamCaptureUnsupported);
  if (!fake::copy_ranges_ok(dst, src, bytes, kind, "cudaMemcpy")) return err(cudaErrorInvalidValue);
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  const fake::CopySides sides = fake::copy_sides(dst, src, kind);
  if (!fake::sides_ok(dst, bytes, src, bytes, sides, "cudaMemcpyAsync")) return err(cudaErrorInvalidValue);
  return fake::submit_or_fail(stream, fake::stream_work("cudaMemcpyAsync", [=] {
                                // Again when it runs: a graph may replay it after a buffer was freed.
                                if (bytes && fake::sides_ok(dst, bytes, src, bytes, sides, "cudaMemcpyAsync (when it ran)"))
                                  std::memmove(dst, src, bytes);
                              }));
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (width > dpitch || width > spitch) return err(cudaErrorInvalidPitchValue);
  const size_t dspan = height > 0 && width > 0 ? dpitch * (height - 1) + width : 0;
  const size_t sspan = height > 0 && width > 0 ? spitch * (height - 1) + width : 0;
  const fake::CopySides sides = fake::copy_sides(dst, src, kind);
  if (!fake::sides_ok(dst, dspan, src, sspan, sides, "cudaMemcpy2DAsync")) return err(cudaErrorInvalidValue);
  return fake::submit_or_fail(stream,
                              fake::stream_work("cudaMemcpy2DAsync",
                                                [=] {
                                                  if (!fake::sides_ok(dst, dspan, src, sspan, sides, "cudaMemcpy2DAsync (when it ran)")) return;
                                                  for (size_t r = 0; r < height; ++r)
                                                    std::memmove(static_cast<char*>(dst) + r * dpitch,
                                                                 static_cast<const char*>(src) + r * spitch, width);
                                                }));
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (bytes && !fake::device_range(dst, bytes, "cudaMemsetAsync", "destination")) return err(cudaErrorInvalidValue);
  return fake::submit_or_fail(stream, fake::stream_work("cudaMemsetAsync", [=] {
                                if (!bytes || fake::device_range(dst, bytes, "cudaMemsetAsync (when it ran)", "destination"))
                                  std::memset(dst, value, bytes);
                              }));
}

cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (fake::capture_forbids("cudaMemset")) return err(cudaErrorStreamCaptureUnsupported);
  if (bytes && !fake::device_range(dst, bytes, "cudaMemset", "destination")) return err(cudaErrorInvalidValue);
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

// ---- streams and events ----------------------------------------------------------------------------

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int flags) {
  (void)flags;
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  auto* n = new CUstream_st;
  n->device = t_device;
  n->id = st().next_stream++;
  st().streams.insert(n);
  ++st().counters.streams_created;
  *s = n;
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, cudaStreamDefault); }

cudaError_t cudaStreamDestroy(cudaStream_t s) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (!st().streams.count(s)) {
    fake::violation(fake::kApi, "cudaStreamDestroy of an unknown stream");
    return err(cudaErrorInvalidResourceHandle);
  }
  if (s->capture) {
    fake::violation(fake::kApi, "cudaStreamDestroy of a stream that is capturing");
    delete s->capture;
  }
  // Other streams' event waits on it no longer matter.
  for (CUstream_st* o : st().streams) o->waited.erase(s);
  st().streams.erase(s);
  delete s;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  CUstream_st* s = fake::resolve(stream, "cudaStreamSynchronize");
  if (!s) return err(cudaErrorInvalidResourceHandle);
  if (s->capture) {
    s->capture->invalidated = true;
    fake::violation(fake::kCaptureUnsafe, "cudaStreamSynchronize of the stream being captured");
    return err(cudaErrorStreamCaptureUnsupported);
  }
  if (fake::capture_forbids("cudaStreamSynchronize")) return err(cudaErrorStreamCaptureUnsupported);
  fake::complete(s, s->seq);
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (fake::capture_forbids("cudaDeviceSynchronize")) return err(cudaErrorStreamCaptureUnsupported);
  for (CUstream_st* s : st().streams)
    if (s->device == t_device) fake::complete(s, s->seq);
  for (auto& [d, s] : st().default_streams)
    if (d == t_device) fake::complete(s.get(), s->seq);
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  *e = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, cudaEventDefault); }
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  CUstream_st* s = fake::resolve(stream, "cudaEventRecord");
  if (!s) return err(cudaErrorInvalidResourceHandle);
  if (!fake::on_current_device(s, "cudaEventRecord")) return err(cudaErrorInvalidResourceHandle);
  if (s->capture) return cudaSuccess;  // a node inside the graph: orders nothing outside it
  e->stream = s;
  e->seq = s->seq;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (fake::capture_forbids("cudaEventSynchronize")) return err(cudaErrorStreamCaptureUnsupported);
  if (e->stream) {
    for (CUstream_st* s : st().streams)
      if (s == e->stream) fake::complete(s, e->seq);
    for (auto& [d, s] : st().default_streams)
      if (s.get() == e->stream) fake::complete(s.get(), e->seq);
  }
  return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t, cudaEvent_t) {
  *ms = 0.01f;
  return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t e, unsigned int) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  CUstream_st* s = fake::resolve(stream, "cudaStreamWaitEvent");
  if (!s) return err(cudaErrorInvalidResourceHandle);
  if (e->stream && !s->capture) s->waited[e->stream] = std::max(s->waited[e->stream], e->seq);
  return cudaSuccess;
}

// ---- graphs ----------------------------------------------------------------------------------------

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (fake::is_default(stream)) {
    fake::violation(fake::kApi, "cudaStreamBeginCapture on the legacy default stream");
    return err(cudaErrorStreamCaptureUnsupported);
  }
  CUstream_st* s = fake::resolve(stream, "cudaStreamBeginCapture");
  if (!s) return err(cudaErrorInvalidResourceHandle);
  if (!fake::on_current_device(s, "cudaStreamBeginCapture")) return err(cudaErrorInvalidResourceHandle);
  if (s->capture) return err(cudaErrorIllegalState);
  if (mode != cudaStreamCaptureModeThreadLocal)
    fake::violation(fake::kCaptureMode, std::string("cudaStreamBeginCapture in ") +
                                            (mode == cudaStreamCaptureModeGlobal ? "global" : "relaxed") +
                                            " mode: another thread's allocation or synchronisation would break (or be missed by) this capture");
  s->capture = new Capture;
  s->capture->id = st().next_capture++;
  s->capture->mode = mode;
  s->capture->thread = std::this_thread::get_id();
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  CUstream_st* s = fake::resolve(stream, "cudaStreamEndCapture");
  if (!s) return err(cudaErrorInvalidResourceHandle);
  if (!s->capture) return err(cudaErrorIllegalState);
  std::unique_ptr<Capture> c(std::exchange(s->capture, nullptr));
  *graph = nullptr;
  if (c->invalidated) return err(cudaErrorStreamCaptureInvalidated);
  *graph = new CUgraph_st{std::move(c->works)};
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  CUstream_st* s = fake::resolve(stream, "cudaStreamIsCapturing");
  if (!s) return err(cudaErrorInvalidResourceHandle);
  *status = !s->capture ? cudaStreamCaptureStatusNone
                        : s->capture->invalidated ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode) {
  std::swap(*mode, fake::t_capture_mode);
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  if (!graph) return err(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->works, t_device};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  CUstream_st* s = fake::resolve(stream, "cudaGraphLaunch");
  if (!s) return err(cudaErrorInvalidResourceHandle);
  if (!fake::on_current_device(s, "cudaGraphLaunch")) return err(cudaErrorInvalidResourceHandle);
  if (exec->device != s->device)
    fake::violation(fake::kStreamDevice, "cudaGraphLaunch of a graph instantiated on device " + std::to_string(exec->device) +
                                             " on a stream of device " + std::to_string(s->device));
  if (s->capture) {
    for (const auto& w : exec->works) s->capture->works.push_back(w);
    return cudaSuccess;
  }
  ++st().counters.graph_launches;
  for (auto w : exec->works) {
    if (w.is_engine) ++st().counters.graph_enqueue_replays;
    fake::run_now(s, w);
  }
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  delete g;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) {
  delete e;
  return cudaSuccess;
}

}  // extern "C"
