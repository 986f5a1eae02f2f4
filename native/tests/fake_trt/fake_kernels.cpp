// Host stand-ins for the CUDA kernels the TensorRT runner launches (backends/cuda/*.cu cannot run
// without a GPU): same declarations, same arithmetic, submitted as stream work of the fake runtime
// (so they are captured into graphs, checked for their stream's device and for their buffers).
#include <string>

#include "backends/cuda/denoise_update.hpp"
#include "tests/fake_trt/fake_runtime.hpp"

namespace alp::cuda {

void launch_euler_update(float* x, const float* v, float dt, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  const size_t bytes = static_cast<size_t>(n) * 4;
  fake::Allocation a, b;
  if (!fake::find_allocation(x, bytes, &a) || a.pinned || !fake::find_allocation(v, bytes, &b) || b.pinned) {
    fake::violation(fake::kBufferBounds, "euler_update_kernel: x or v (" + std::to_string(n) + " floats) is not inside a device allocation");
    return;
  }
  if (a.device != fake::current_device() || b.device != fake::current_device())
    fake::violation(fake::kBufferBounds, "euler_update_kernel: x or v on another device than the current one");
  // As the kernel: the product rounded, then the sum (no fused multiply-add).
  fake::submit(s, fake::stream_work("euler_update_kernel", [=] {
                     // Again when it runs: a graph may replay it after a buffer was freed.
                     fake::Allocation ax, av;
                     if (!fake::find_allocation(x, bytes, &ax) || !fake::find_allocation(v, bytes, &av)) {
                       fake::violation(fake::kBufferBounds, "euler_update_kernel ran on x or v that is no longer allocated");
                       return;
                     }
                     for (int64_t i = 0; i < n; ++i) {
                       const float step = dt * v[i];
                       x[i] = x[i] + step;
                     }
                   }),
               nullptr);
}

}  // namespace alp::cuda
