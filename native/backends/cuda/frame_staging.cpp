#include "backends/cuda/frame_staging.hpp"

#include <cstring>
#include <string>

#include "core/error.hpp"

namespace alp::cuda {

model::Value FrameStaging::run(CudaOps& ops, std::span<const uint8_t* const> frames, int in_h, int in_w, int out_h,
                               int out_w) {
  const int n = static_cast<int>(frames.size());
  const size_t frame_bytes = size_t(in_h) * size_t(in_w) * 3, bytes = frame_bytes * size_t(n);
  if (consumed_) consumed_->synchronize();  // the previous plan's copy out of the staging has finished
  if (pinned_.bytes() < bytes) pinned_ = PinnedBuffer(bytes, "frame staging");
  for (int i = 0; i < n; ++i) std::memcpy(pinned_.as<uint8_t>() + size_t(i) * frame_bytes, frames[size_t(i)], frame_bytes);
  const PatchGeometry g = patch_geometry(pre_.config(), out_h, out_w);
  auto [patches, out] = ops.device_output({int64_t(n) * g.patches_per_image(), g.patch_dim});
  pre_.run(pinned_.as<uint8_t>(), n, in_h, in_w, out_h, out_w, out, ops.stream());
  if (!consumed_) consumed_ = std::make_unique<Event>();
  consumed_->record(ops.stream());
  return patches;
}

}  // namespace alp::cuda
