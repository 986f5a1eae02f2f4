#pragma once
// Camera frame -> Qwen3-VL vision-encoder input, bit-compatible with the HF image processor used by
// Alpamayo (transformers' Qwen2VLImageProcessor on its torchvision backend, i.e. the "fast"
// processor that both transformers 4.57 (the official pin) and 5.x pick when torchvision is
// installed). On a uint8 tensor that processor:
//   1. resizes with torchvision resize(BICUBIC, antialias=True), which on CPU runs PyTorch's native
//      uint8 kernel: PIL-style separable convolution (cubic a = -0.5, support widened by the
//      downscale factor), horizontal pass then vertical, int16 fixed-point weights, each pass
//      rounded and clamped to uint8;
//   2. computes (x - 255 mean) / (255 std) in float32 (rescale and normalise fused);
//   3. repeats the frame temporal_patch_size times and cuts patches of C x T x P x P values, patches
//      ordered by 2x2 merge groups (row-major over groups, then row-major inside a group).
// resize_bicubic_aa_u8 reproduces (1) exactly (0 differing bytes against torch in the fixtures), so
// the float output matches pixel_values to the last bit.
#include <cstdint>
#include <span>

namespace alp::model {

struct VisionPatchConfig {
  int patch_size = 16;
  int temporal_patch_size = 2;
  int merge_size = 2;
  int channels = 3;
};

struct ImageSize {
  int height = 0;
  int width = 0;
};

// HF smart_resize: both sides multiples of `factor`, pixel count within [min_pixels, max_pixels],
// aspect ratio kept as closely as possible (Python round() is half-to-even and is reproduced).
// Release values: factor 32, min 163840, max 196608 -> 1080x1920 becomes 320x576.
ImageSize smart_resize(int height, int width, int factor = 32, int64_t min_pixels = 163840,
                       int64_t max_pixels = 196608);

// Resamples an interleaved uint8 image (h, w, channels) to (out_h, out_w, channels) exactly like
// torch's antialiased bicubic uint8 resize. A side whose size does not change is copied.
void resize_bicubic_aa_u8(const uint8_t* src, int h, int w, int channels, int out_h, int out_w, uint8_t* dst);

// Patches per image: (out_h / patch) * (out_w / patch); image_grid_thw = (1, out_h/patch, out_w/patch).
int64_t patches_per_image(int out_h, int out_w, const VisionPatchConfig& cfg = {});
// Values per patch: channels * temporal_patch_size * patch^2 (1536 for Qwen3-VL).
int64_t patch_dim(const VisionPatchConfig& cfg = {});

// One RGB uint8 HWC frame (h, w >= 1; callers validate the camera contract) -> patches_out, which
// must hold patches_per_image * patch_dim floats. out_h and out_w must be multiples of
// patch_size * merge_size. mean/std are the processor's image_mean/image_std (0.5 for Qwen3-VL).
void preprocess_frame(const uint8_t* rgb, int h, int w, int out_h, int out_w, const float mean[3],
                      const float std[3], float* patches_out, const VisionPatchConfig& cfg = {});

struct FrameView {
  const uint8_t* rgb = nullptr;  // HWC, RGB, uint8, tightly packed
  int height = 0;
  int width = 0;
};

// All frames, image after image in `frames` order (the pixel_values row order of the processor),
// on up to `max_threads` threads (0 = hardware concurrency). out holds frames.size() *
// patches_per_image * patch_dim floats.
void preprocess_frames(std::span<const FrameView> frames, int out_h, int out_w, const float mean[3],
                       const float std[3], float* out, const VisionPatchConfig& cfg = {}, int max_threads = 0);
// The same with one model input size per frame (sizes.size() == frames.size()), as the processor sizes
// each image from its own shape: frame i's patches follow frame i-1's.
void preprocess_frames(std::span<const FrameView> frames, std::span<const ImageSize> sizes, const float mean[3],
                       const float std[3], float* out, const VisionPatchConfig& cfg = {}, int max_threads = 0);

}  // namespace alp::model
