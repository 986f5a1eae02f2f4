#include "backends/cuda/device.hpp"

#include <cuda_runtime.h>

namespace alp::cuda {

int device_count(std::string* why) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky error so later probes start clean
    return 0;
  }
  return n;
}

}  // namespace alp::cuda
