#pragma once
// Pinned host memory that input() copies host data through, so every H2D copy is a truly async
// cudaMemcpyAsync (and one a CUDA graph can capture). A bump buffer: when it is full the stream is
// synchronised (every earlier copy out of it has then finished) and it starts over, growing if one
// request is larger than the whole buffer.
// Frozen (a CUDA graph's private staging during capture) it never wraps or grows: the captured copy
// nodes read these exact bytes at every replay, so they must stay put and unchanged.
#include <cuda_runtime.h>

#include <cstddef>

#include "backends/cuda/resources.hpp"

namespace alp::cuda {

class HostStaging {
 public:
  explicit HostStaging(size_t bytes) : buf_(bytes) {}
  // Copies `bytes` from `src` into the buffer and returns where they now are (pinned).
  void* stage(const void* src, size_t bytes, cudaStream_t s);
  void rewind() { used_ = 0; demand_ = 0; }
  // Bytes requested since the last rewind(), wraps included: the size a frozen copy needs.
  size_t demand() const { return demand_; }
  void set_frozen(bool f) { frozen_ = f; }
  size_t capacity() const { return buf_.bytes(); }
  size_t used() const { return used_; }

 private:
  PinnedBuffer buf_;
  size_t used_ = 0, demand_ = 0;
  bool frozen_ = false;
};

}  // namespace alp::cuda
