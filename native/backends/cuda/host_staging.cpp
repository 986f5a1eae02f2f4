#include "backends/cuda/host_staging.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "backends/cuda/cuda_check.hpp"

namespace alp::cuda {

void* HostStaging::stage(const void* src, size_t bytes, cudaStream_t s) {
  constexpr size_t kAlign = 64;
  const size_t need = (bytes + kAlign - 1) / kAlign * kAlign;
  if (used_ + need > buf_.bytes()) {
    if (frozen_)
      fail(ErrorCode::Internal, "host staging: " + std::to_string(bytes) + " bytes requested during graph capture, " +
                                    std::to_string(buf_.bytes() - used_) + " left (the warm-up pass must run the same work first)");
    check(cudaStreamSynchronize(s), "cudaStreamSynchronize(staging wrap)");
    if (need > buf_.bytes()) buf_ = PinnedBuffer(std::max(need, 2 * buf_.bytes()));
    used_ = 0;
  }
  char* dst = buf_.as<char>() + used_;
  if (bytes) std::memcpy(dst, src, bytes);
  used_ += need;
  demand_ += need;
  return dst;
}

}  // namespace alp::cuda
