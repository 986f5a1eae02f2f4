#pragma once
#include <string>

namespace alp::cuda {
// Number of usable CUDA devices; 0 with `why` set when the driver or a GPU is missing.
int device_count(std::string* why);
}  // namespace alp::cuda
