#include "backends/trt/cuda_resources.hpp"

#include "core/error.hpp"

namespace alp::trt {

void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    fail(ErrorCode::Internal, std::string(what) + ": " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}

DeviceBuffer::DeviceBuffer(size_t bytes, const char* what) : bytes_(bytes) {
  if (bytes == 0) return;
  const cudaError_t st = cudaMalloc(&ptr_, bytes);
  if (st == cudaErrorMemoryAllocation)
    fail(ErrorCode::BackendUnavailable,
         std::string(what) + ": cannot allocate " + std::to_string(bytes) + " bytes of GPU memory");
  check_cuda(st, what);
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

PinnedBuffer::PinnedBuffer(size_t bytes, const char* what) : bytes_(bytes) {
  if (bytes > 0) check_cuda(cudaMallocHost(&ptr_, bytes), what);
}

PinnedBuffer::~PinnedBuffer() {
  if (ptr_) cudaFreeHost(ptr_);
}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFreeHost(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

CudaStream::CudaStream() { check_cuda(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreate"); }

CudaStream::~CudaStream() {
  if (s_) {
    cudaStreamSynchronize(s_);  // in-flight work may still read buffers destroyed after the stream
    cudaStreamDestroy(s_);
  }
}

void CudaStream::synchronize(const char* what) const { check_cuda(cudaStreamSynchronize(s_), what); }

void CudaGraph::reset() noexcept {
  if (exec_) cudaGraphExecDestroy(exec_);
  if (graph_) cudaGraphDestroy(graph_);
  exec_ = nullptr;
  graph_ = nullptr;
}

CudaGraph::~CudaGraph() { reset(); }

CudaGraph& CudaGraph::operator=(CudaGraph&& o) noexcept {
  if (this != &o) {
    reset();
    graph_ = std::exchange(o.graph_, nullptr);
    exec_ = std::exchange(o.exec_, nullptr);
  }
  return *this;
}

void CudaGraph::launch(cudaStream_t stream, const char* what) const {
  if (!exec_) fail(ErrorCode::Internal, std::string(what) + ": graph was never captured");
  check_cuda(cudaGraphLaunch(exec_, stream), what);
}

}  // namespace alp::trt
