#include "backends/cuda/cuda_check.hpp"

#include <string>

#include "backends/cuda/device.hpp"

namespace alp::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call) {
  const bool unavailable = e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
                           e == cudaErrorInitializationError || e == cudaErrorNoKernelImageForDevice ||
                           e == cudaErrorInvalidDevice;
  std::string msg = std::string(call) + " failed: " +
                    (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice
                         ? describe_unavailable(e)
                         : std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")");
  // Launch-configuration errors are sticky only for the last call; clear so the next call reports its own.
  cudaGetLastError();
  throw Error(unavailable ? ErrorCode::BackendUnavailable : ErrorCode::Internal, msg);
}

}  // namespace alp::cuda
