#pragma once
// RAII for the CUDA objects the TensorRT runner owns: device and pinned buffers, a stream, a captured
// graph. Move-only; every CUDA error becomes alp::Error naming the call.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

namespace alp::trt {

// Throws Error(Internal) "<what>: <cudaGetErrorString>" unless `status` is cudaSuccess.
void check_cuda(cudaError_t status, const char* what);

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // cudaMalloc, not cudaMallocAsync: these buffers live as long as the executor and are bound into
  // captured graphs, so stream-ordered lifetime buys nothing and would tie frees to a stream.
  DeviceBuffer(size_t bytes, const char* what);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  template <class T> T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Page-locked host staging: async copies from pageable memory would serialise with the host.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(size_t bytes, const char* what);
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

class CudaStream {
 public:
  CudaStream();  // non-blocking: must not synchronise with other planners' work on the legacy stream
  ~CudaStream();
  CudaStream(CudaStream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  CudaStream& operator=(CudaStream&&) = delete;
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;

  cudaStream_t get() const { return s_; }
  void synchronize(const char* what) const;

 private:
  cudaStream_t s_ = nullptr;
};

// A captured and instantiated graph. capture() records everything `body` enqueues on `stream`.
class CudaGraph {
 public:
  CudaGraph() = default;
  ~CudaGraph();
  CudaGraph(CudaGraph&& o) noexcept
      : graph_(std::exchange(o.graph_, nullptr)), exec_(std::exchange(o.exec_, nullptr)) {}
  CudaGraph& operator=(CudaGraph&& o) noexcept;
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  template <class Body>
  static CudaGraph capture(cudaStream_t stream, const char* what, Body&& body) {
    CudaGraph g;
    // Thread-local mode: another planner's thread doing unrelated CUDA work must not invalidate or
    // join this capture.
    check_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), what);
    try {
      body();
    } catch (...) {
      cudaGraph_t partial = nullptr;
      cudaStreamEndCapture(stream, &partial);  // leave the stream usable before rethrowing
      if (partial) cudaGraphDestroy(partial);
      throw;
    }
    check_cuda(cudaStreamEndCapture(stream, &g.graph_), what);
    check_cuda(cudaGraphInstantiate(&g.exec_, g.graph_, 0), what);
    return g;
  }

  bool valid() const { return exec_ != nullptr; }
  void launch(cudaStream_t stream, const char* what) const;

 private:
  void reset() noexcept;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace alp::trt
