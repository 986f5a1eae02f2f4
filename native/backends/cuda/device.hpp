#pragma once
#include <cuda_runtime.h>

#include <string>

namespace alp::cuda {
// Number of usable CUDA devices; 0 with `why` set when the driver or a GPU is missing.
int device_count(std::string* why);
// Words for a user: "no NVIDIA driver found", "driver older than the runtime", "no GPU"; else name + text.
std::string describe_unavailable(cudaError_t e);
}  // namespace alp::cuda
