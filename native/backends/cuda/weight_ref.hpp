#pragma once
// A read-only device array of weights in its stored dtype. Kernels widen to fp32 on load, so a bf16
// checkpoint needs no fp32 copy on the device. fp8 e4m3 carries a per-tensor scale (value = fp8 * scale).
#include "core/dtype.hpp"

namespace alp::cuda {

struct WeightRef {
  const void* data = nullptr;
  DType dtype = DType::F32;  // F32, BF16, F16 or F8E4M3
  float scale = 1.0f;        // applied to F8E4M3 only
  const float* scale_dev = nullptr;  // F8E4M3: the same scale in device memory (cuBLASLt reads it there)
};

}  // namespace alp::cuda
