#include "backends/cuda/device.hpp"

#include <cuda_runtime.h>
#include <dlfcn.h>

namespace alp::cuda {

namespace {

// cudart reports a missing driver and a too-old driver with the same code (cudaErrorInsufficientDriver);
// a user needs to know which. The driver library is what is missing when no driver is installed.
bool driver_library_present() {
  void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (h == nullptr) return false;
  dlclose(h);
  return true;
}

}  // namespace

std::string describe_unavailable(cudaError_t e) {
  if (e == cudaErrorInsufficientDriver) {
    if (!driver_library_present()) return "no NVIDIA driver found (libcuda.so.1 cannot be loaded)";
    int runtime = 0;
    cudaRuntimeGetVersion(&runtime);
    return "the NVIDIA driver is older than this build's CUDA runtime " + std::to_string(runtime / 1000) + "." +
           std::to_string(runtime % 1000 / 10) + " (update the driver)";
  }
  if (e == cudaErrorNoDevice) return "no CUDA-capable GPU found (the NVIDIA driver is installed)";
  return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}

int device_count(std::string* why) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = describe_unavailable(e);
    cudaGetLastError();  // clear the sticky error so later probes start clean
    return 0;
  }
  return n;
}

}  // namespace alp::cuda
