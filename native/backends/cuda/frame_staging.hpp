#pragma once
// The CUDA plan's image input: the 16 camera frames are copied once into pinned staging (so the H2D
// copy is truly asynchronous) and preprocessed on the device by ImagePreprocessor in one launch
// sequence (copy, horizontal pass, vertical pass + normalise + patchify), straight into an arena Value
// that the vision encoder reads. Bit-identical to the CPU's model::preprocess_frames (TorchU8 mode).
#include <cstdint>
#include <memory>
#include <span>

#include "backends/cuda/cuda_ops.hpp"
#include "backends/cuda/preprocess.hpp"
#include "backends/cuda/resources.hpp"

namespace alp::cuda {

class FrameStaging {
 public:
  explicit FrameStaging(PreprocessConfig cfg) : pre_(cfg) {}
  // frames: n pointers to in_h x in_w x 3 uint8 RGB. Returns [n * patches_per_image, patch_dim] on ops'
  // device. The caller's frames may change as soon as this returns (they were copied to staging).
  model::Value run(CudaOps& ops, std::span<const uint8_t* const> frames, int in_h, int in_w, int out_h, int out_w);

 private:
  ImagePreprocessor pre_;
  PinnedBuffer pinned_;
  std::unique_ptr<Event> consumed_;  // the last copy out of pinned_ has been read by the device
};

}  // namespace alp::cuda
