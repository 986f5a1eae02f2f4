// Host stand-ins for the CUDA kernels the TensorRT runner launches (backends/cuda/*.cu cannot run
// without a GPU): same declarations, same arithmetic, submitted as stream work of the fake runtime
// (so they are captured into graphs, checked for their stream's device and for their buffers).
#include <string>

#include <span>

#include "backends/cuda/denoise_update.hpp"
#include "backends/cuda/token_select_kernel.hpp"
#include "model/sampling.hpp"
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

// The selection kernel's host form: each lane runs model::select_lane_host, the kernel's own
// algorithm (select_lane over the same 512-thread reduction tree) on the logits in fake device memory,
// when the work runs (so a graph or a later launch sees the values the engine wrote by then).
void launch_select_tokens(const float* logits, int64_t row_stride, int64_t vocab, const SelectLaneInput* in, int lanes,
                          const model::SamplingParams& p, double* scratch, model::LaneSelection* out, cudaStream_t s) {
  if (lanes <= 0) return;
  const size_t in_bytes = static_cast<size_t>(lanes) * sizeof(SelectLaneInput), out_bytes = static_cast<size_t>(lanes) * sizeof(model::LaneSelection);
  const size_t scratch_bytes = static_cast<size_t>(lanes) * static_cast<size_t>(vocab) * sizeof(double);
  auto device_buffer = [](const void* p, size_t bytes) {
    fake::Allocation a;
    return fake::find_allocation(p, bytes, &a) && !a.pinned && a.device == fake::current_device();
  };
  if (!device_buffer(in, in_bytes) || !device_buffer(out, out_bytes) || !device_buffer(scratch, scratch_bytes) ||
      !device_buffer(logits, static_cast<size_t>(vocab) * 4)) {
    fake::violation(fake::kBufferBounds, "select_tokens_kernel: in, out, scratch or logits is not inside a device allocation of the current device");
    return;
  }
  fake::submit(s, fake::stream_work("select_tokens_kernel", [=] {
                     for (int k = 0; k < lanes; ++k) {
                       const SelectLaneInput lane = in[k];
                       const float* row = logits + lane.row * row_stride;
                       if (lane.row < 0 || !fake::find_allocation(row, static_cast<size_t>(vocab) * 4, nullptr)) {
                         fake::violation(fake::kBufferBounds, "select_tokens_kernel: lane " + std::to_string(k) + " reads logits row " +
                                                                  std::to_string(lane.row) + " outside its allocation");
                         return;
                       }
                       out[k] = model::select_lane_host(std::span<const float>(row, static_cast<size_t>(vocab)), lane.u, p);
                     }
                   }),
               nullptr);
}

}  // namespace alp::cuda
