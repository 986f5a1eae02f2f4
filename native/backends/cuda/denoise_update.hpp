#pragma once
// Flow-matching Euler step on the device. The state x stays fp32 whatever precision the velocity
// network runs in: ten accumulations of dt * v in fp16 would lose the small late-step corrections.
#include <cuda_runtime.h>

#include <cstdint>

namespace alp::cuda {

// x[i] += dt * v[i] for i in [0, n), enqueued on s. Capturable in a CUDA graph (no allocation, no sync).
void launch_euler_update(float* x, const float* v, float dt, int64_t n, cudaStream_t s);

}  // namespace alp::cuda
