#pragma once
// Camera frames -> Qwen-VL patch rows on the device: uint8 RGB HWC frames (pinned host memory) are
// copied H2D on the caller's stream, resized with antialiased bicubic (a = -0.5, support scaled by the
// downscale factor; horizontal pass, then vertical), rescaled/normalised per channel and patchified
// into [n_patches, 3 * temporal * patch * patch] in the processor's merge order, each frame duplicated
// along the temporal patch. All frames of one call share one size and go through one launch sequence.
//
// Three rounding conventions (PreprocessConfig::mode):
//   TorchU8       (default) PyTorch's uint8 antialiased bicubic kernel, the one transformers' Qwen2VL
//                 processor runs on uint8 frames and the CPU reference alp::model::preprocess_frame
//                 reproduces bit-exactly: int16 fixed-point taps whose precision is chosen per axis
//                 (the largest that keeps the biggest tap below 2^15 with madd headroom), uint8 (floor
//                 shift, clamp) after each pass. Matches preprocess_frame bit for bit.
//   Float         torchvision's float tensor path: fp32 weights and sums, no rounding between passes,
//                 round-half-even + clamp to uint8 at the end.
//   PilFixedPoint Pillow's ImagingResample on 8-bit images: weights in 22-bit fixed point, uint8
//                 (round-half-up, clamp) after each pass.
// Then value = (u8 - mean[c] * 255) / (std[c] * 255), the fused rescale+normalise the processor uses.
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "backends/cuda/resources.hpp"

namespace alp::cuda {

enum class ResizeMode { TorchU8, Float, PilFixedPoint };

struct PreprocessConfig {
  int patch = 16;
  int temporal = 2;
  int merge = 2;
  float mean[3] = {0.5f, 0.5f, 0.5f};
  float std[3] = {0.5f, 0.5f, 0.5f};
  ResizeMode mode = ResizeMode::TorchU8;
};

// Resampling weights for one axis: output o reads inputs [start[o], start[o] + taps) with weights
// w[o * taps + j] (zero-padded past the filter's own extent). wq is the Pillow fixed-point form; wt the
// torch uint8 kernel's int16 taps (held as int32) with torch_precision fractional bits.
struct ResampleAxis {
  int in_size = 0, out_size = 0, taps = 0;
  std::vector<int32_t> start;
  std::vector<float> w;
  std::vector<int32_t> wq;
  std::vector<int32_t> wt;
  int torch_precision = 0;
};
inline constexpr int kResamplePrecisionBits = 22;  // Pillow's PRECISION_BITS for 8-bit images
ResampleAxis make_bicubic_axis(int in_size, int out_size);

struct PatchGeometry {
  int grid_h = 0, grid_w = 0;   // patches per image (before the spatial merge)
  int64_t patch_dim = 0;        // 3 * temporal * patch * patch
  int64_t patches_per_image() const { return int64_t(grid_h) * grid_w; }
};
// Validates out_h/out_w against patch * merge; throws InvalidInput naming the offending size.
PatchGeometry patch_geometry(const PreprocessConfig& cfg, int out_h, int out_w);

class ImagePreprocessor {
 public:
  explicit ImagePreprocessor(PreprocessConfig cfg) : cfg_(cfg) {}
  const PreprocessConfig& config() const { return cfg_; }

  // frames: n_frames * in_h * in_w * 3 bytes, frame-major HWC RGB, ideally pinned (PinnedBuffer) so the
  // copy is asynchronous. out: device fp32 [n_frames * patches_per_image, patch_dim]. Device scratch
  // and weight tables are kept and reused while the sizes repeat; the frames must stay untouched
  // until the stream reaches this work.
  void run(const uint8_t* frames, int n_frames, int in_h, int in_w, int out_h, int out_w, float* out, cudaStream_t s);

 private:
  void prepare(int n_frames, int in_h, int in_w, int out_h, int out_w);
  PreprocessConfig cfg_;
  int in_h_ = 0, in_w_ = 0, out_h_ = 0, out_w_ = 0, frames_cap_ = 0;
  ResampleAxis ax_h_, ax_w_;
  DeviceBuffer d_frames_, d_mid_, d_tab_w_, d_tab_h_;
};

// Host twin: same tables, same arithmetic, for parity tests and as a readable statement of the algorithm.
void preprocess_host(const PreprocessConfig& cfg, const uint8_t* frames, int n_frames, int in_h, int in_w, int out_h,
                     int out_w, float* out);

}  // namespace alp::cuda
