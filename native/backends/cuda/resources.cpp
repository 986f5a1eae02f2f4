#include "backends/cuda/resources.hpp"

#include <string>

#include "backends/cuda/cuda_check.hpp"

namespace alp::cuda {

namespace {
std::string alloc_call(const char* call, const char* what, size_t bytes) {
  return std::string(call) + " (" + what + ", " + std::to_string(bytes) + " bytes)";
}
}  // namespace

DeviceBuffer::DeviceBuffer(size_t bytes, const char* what) : bytes_(bytes) {
  if (bytes) check(cudaMalloc(&ptr_, bytes), alloc_call("cudaMalloc", what, bytes).c_str());
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
void DeviceBuffer::upload(const void* src, size_t bytes, size_t dst_offset) {
  require(dst_offset + bytes <= bytes_, ErrorCode::Internal,
          "DeviceBuffer::upload: " + std::to_string(dst_offset + bytes) + " bytes past a buffer of " + std::to_string(bytes_));
  check(cudaMemcpy(static_cast<char*>(ptr_) + dst_offset, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy(H2D)");
}
void DeviceBuffer::download(void* dst, size_t bytes, size_t src_offset) const {
  require(src_offset + bytes <= bytes_, ErrorCode::Internal,
          "DeviceBuffer::download: " + std::to_string(src_offset + bytes) + " bytes past a buffer of " + std::to_string(bytes_));
  check(cudaMemcpy(dst, static_cast<const char*>(ptr_) + src_offset, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy(D2H)");
}

PinnedBuffer::PinnedBuffer(size_t bytes, const char* what) : bytes_(bytes) {
  if (bytes) check(cudaMallocHost(&ptr_, bytes), alloc_call("cudaMallocHost", what, bytes).c_str());
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

Stream::Stream() { check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"); }
Stream::~Stream() {
  if (s_) cudaStreamDestroy(s_);
}
Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    if (s_) cudaStreamDestroy(s_);
    s_ = std::exchange(o.s_, nullptr);
  }
  return *this;
}
void Stream::synchronize() const { check(cudaStreamSynchronize(s_), "cudaStreamSynchronize"); }

Event::Event(bool timing) {
  check(cudaEventCreateWithFlags(&e_, timing ? cudaEventDefault : cudaEventDisableTiming), "cudaEventCreateWithFlags");
}
Event::~Event() {
  if (e_) cudaEventDestroy(e_);
}
Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    if (e_) cudaEventDestroy(e_);
    e_ = std::exchange(o.e_, nullptr);
  }
  return *this;
}
void Event::record(cudaStream_t s) { check(cudaEventRecord(e_, s), "cudaEventRecord"); }
void Event::synchronize() const { check(cudaEventSynchronize(e_), "cudaEventSynchronize"); }
float Event::elapsed_ms_since(const Event& start) const {
  float ms = 0.f;
  check(cudaEventElapsedTime(&ms, start.e_, e_), "cudaEventElapsedTime");
  return ms;
}

GraphExec::~GraphExec() {
  if (exec_) cudaGraphExecDestroy(exec_);
}
GraphExec& GraphExec::operator=(GraphExec&& o) noexcept {
  if (this != &o) {
    if (exec_) cudaGraphExecDestroy(exec_);
    exec_ = std::exchange(o.exec_, nullptr);
  }
  return *this;
}
void GraphExec::begin_capture(cudaStream_t s) {
  // Thread-local: only this thread's unsafe calls (cudaMalloc, syncs) break the capture. Global mode
  // also failed it when another planner allocated or synchronised on its own thread meanwhile.
  check(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
}
void GraphExec::abort_capture(cudaStream_t s) noexcept {
  cudaGraph_t g = nullptr;
  if (cudaStreamEndCapture(s, &g) == cudaSuccess && g) cudaGraphDestroy(g);
  cudaGetLastError();
}
cudaGraphExec_t GraphExec::end_capture(cudaStream_t s) {
  cudaGraph_t g = nullptr;
  check(cudaStreamEndCapture(s, &g), "cudaStreamEndCapture");
  cudaGraphExec_t e = nullptr;
  cudaError_t err = cudaGraphInstantiate(&e, g, 0);
  cudaGraphDestroy(g);  // the executable graph does not need the template
  check(err, "cudaGraphInstantiate");
  return e;
}
void GraphExec::launch(cudaStream_t s) const {
  require(exec_ != nullptr, ErrorCode::Internal, "GraphExec::launch on an empty graph");
  check(cudaGraphLaunch(exec_, s), "cudaGraphLaunch");
}

}  // namespace alp::cuda
