#pragma once
// Move-only owners of CUDA resources. Constructors throw alp::Error on failure; destructors never
// throw (a failing cudaFree during unwinding must not terminate the process), they drop the error.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace alp::cuda {

// Device memory (cudaMalloc). Size 0 holds no allocation. `what` names the buffer in the error of a
// failed allocation (out of memory is the usual failure, and the size and owner are what to report).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes, const char* what = "device buffer");
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  template <class T> T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

  // Synchronous copies for setup and tests; the hot path uses cudaMemcpyAsync on its stream.
  void upload(const void* src, size_t bytes, size_t dst_offset = 0);
  void download(void* dst, size_t bytes, size_t src_offset = 0) const;

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Page-locked host memory (cudaMallocHost): the source of truly async H2D copies.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes, const char* what = "pinned host buffer");
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* get() const { return ptr_; }
  template <class T> T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// A non-blocking stream, so work on it never serialises with the legacy default stream.
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const { return s_; }
  void synchronize() const;

 private:
  cudaStream_t s_ = nullptr;
};

class Event {
 public:
  // Timing events are opt-in: cudaEventDisableTiming makes record/wait cheaper.
  explicit Event(bool timing = false);
  ~Event();
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&& o) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  cudaEvent_t get() const { return e_; }
  void record(cudaStream_t s);
  void synchronize() const;
  float elapsed_ms_since(const Event& start) const;  // both recorded with timing=true

 private:
  cudaEvent_t e_ = nullptr;
};

// An instantiated CUDA graph. Built by capturing the work that `enqueue` puts on `s` in thread-local
// capture mode: other threads (other planners) may allocate and synchronise meanwhile; the capturing
// thread itself must not (the arena and staging are frozen during capture for that reason).
class GraphExec {
 public:
  GraphExec() = default;
  template <class F> static GraphExec capture(cudaStream_t s, F&& enqueue) {
    begin_capture(s);
    try {
      enqueue();
    } catch (...) {
      abort_capture(s);
      throw;
    }
    return GraphExec(end_capture(s));
  }
  ~GraphExec();
  GraphExec(GraphExec&& o) noexcept : exec_(std::exchange(o.exec_, nullptr)) {}
  GraphExec& operator=(GraphExec&& o) noexcept;
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;

  bool valid() const { return exec_ != nullptr; }
  void launch(cudaStream_t s) const;

 private:
  explicit GraphExec(cudaGraphExec_t e) : exec_(e) {}
  static void begin_capture(cudaStream_t s);
  static void abort_capture(cudaStream_t s) noexcept;
  static cudaGraphExec_t end_capture(cudaStream_t s);
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace alp::cuda
