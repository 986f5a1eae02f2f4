#include "model/preprocess.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "model/bicubic_taps.hpp"

namespace alp::model {
namespace {

// Python's round(): nearest, ties to even.
double py_round(double x) {
  const double r = std::round(x);  // ties away from zero
  if (std::fabs(x - std::trunc(x)) == 0.5) return 2.0 * std::round(x / 2.0);
  return r;
}

inline uint8_t clamp_u8(int32_t acc, int precision) {
  const int32_t v = acc >> precision;  // arithmetic shift, as the reference
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

void check_dims(int h, int w, int out_h, int out_w, const VisionPatchConfig& cfg) {
  require(h >= 1 && w >= 1, ErrorCode::InvalidInput,
          "preprocess: frame size must be positive, got " + std::to_string(h) + "x" + std::to_string(w));
  const int unit = cfg.patch_size * cfg.merge_size;
  require(unit > 0 && out_h >= unit && out_w >= unit && out_h % unit == 0 && out_w % unit == 0,
          ErrorCode::InvalidInput,
          "preprocess: model input size " + std::to_string(out_h) + "x" + std::to_string(out_w) +
              " must be positive multiples of patch_size*merge_size = " + std::to_string(unit));
  require(cfg.channels == 3, ErrorCode::InvalidInput,
          "preprocess: only 3-channel RGB frames are supported, config has " + std::to_string(cfg.channels));
}

}  // namespace

ImageSize smart_resize(int height, int width, int factor, int64_t min_pixels, int64_t max_pixels) {
  require(height > 0 && width > 0 && factor > 0, ErrorCode::InvalidInput,
          "smart_resize: height, width and factor must be positive, got " + std::to_string(height) + ", " +
              std::to_string(width) + ", " + std::to_string(factor));
  // The official processor (Qwen's rule, transformers 4.57 as pinned by Alpamayo) rejects a side shorter
  // than the factor and an aspect ratio over 200.
  require(height >= factor && width >= factor, ErrorCode::InvalidInput,
          "smart_resize: height " + std::to_string(height) + " and width " + std::to_string(width) +
              " must be at least the factor " + std::to_string(factor) + " (patch_size * merge_size)");
  const double ratio = static_cast<double>(std::max(height, width)) / std::min(height, width);
  require(ratio <= 200.0, ErrorCode::InvalidInput,
          "smart_resize: absolute aspect ratio must be smaller than 200, got " + std::to_string(ratio));
  const double h = height, w = width, f = factor;
  double h_bar = py_round(h / f) * f;
  double w_bar = py_round(w / f) * f;
  if (h_bar * w_bar > static_cast<double>(max_pixels)) {
    const double beta = std::sqrt(h * w / static_cast<double>(max_pixels));
    h_bar = std::max(f, std::floor(h / beta / f) * f);
    w_bar = std::max(f, std::floor(w / beta / f) * f);
  } else if (h_bar * w_bar < static_cast<double>(min_pixels)) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / (h * w));
    h_bar = std::ceil(h * beta / f) * f;
    w_bar = std::ceil(w * beta / f) * f;
  }
  return {static_cast<int>(h_bar), static_cast<int>(w_bar)};
}

void resize_bicubic_aa_u8(const uint8_t* src, int h, int w, int channels, int out_h, int out_w, uint8_t* dst) {
  require(h >= 1 && w >= 1 && out_h >= 1 && out_w >= 1 && channels >= 1, ErrorCode::InvalidInput,
          "resize_bicubic_aa_u8: sizes must be positive, got " + std::to_string(h) + "x" + std::to_string(w) + " -> " +
              std::to_string(out_h) + "x" + std::to_string(out_w));
  const size_t c = static_cast<size_t>(channels);
  // Horizontal pass (into `mid`, h x out_w), rounded to uint8 like the reference.
  std::vector<uint8_t> mid;
  const uint8_t* rows = src;
  if (out_w != w) {
    const BicubicTaps t = bicubic_taps(w, out_w);
    mid.resize(static_cast<size_t>(h) * out_w * c);
    for (int y = 0; y < h; ++y) {
      const uint8_t* in = src + static_cast<size_t>(y) * w * c;
      uint8_t* out = mid.data() + static_cast<size_t>(y) * out_w * c;
      for (int x = 0; x < out_w; ++x) {
        const int16_t* k = &t.k[static_cast<size_t>(x) * t.max_count];
        const uint8_t* base = in + static_cast<size_t>(t.first[x]) * c;
        for (size_t ch = 0; ch < c; ++ch) {
          int32_t acc = 1 << (t.precision - 1);
          for (int j = 0; j < t.count[x]; ++j) acc += static_cast<int32_t>(base[j * c + ch]) * k[j];
          out[x * c + ch] = clamp_u8(acc, t.precision);
        }
      }
    }
    rows = mid.data();
  }
  const size_t row_len = static_cast<size_t>(out_w) * c;
  if (out_h == h) {
    std::copy(rows, rows + static_cast<size_t>(h) * row_len, dst);
    return;
  }
  const BicubicTaps t = bicubic_taps(h, out_h);
  for (int y = 0; y < out_h; ++y) {
    const int16_t* k = &t.k[static_cast<size_t>(y) * t.max_count];
    const uint8_t* base = rows + static_cast<size_t>(t.first[y]) * row_len;
    uint8_t* out = dst + static_cast<size_t>(y) * row_len;
    for (size_t i = 0; i < row_len; ++i) {
      int32_t acc = 1 << (t.precision - 1);
      for (int j = 0; j < t.count[y]; ++j) acc += static_cast<int32_t>(base[j * row_len + i]) * k[j];
      out[i] = clamp_u8(acc, t.precision);
    }
  }
}

int64_t patches_per_image(int out_h, int out_w, const VisionPatchConfig& cfg) {
  return static_cast<int64_t>(out_h / cfg.patch_size) * (out_w / cfg.patch_size);
}

int64_t patch_dim(const VisionPatchConfig& cfg) {
  return static_cast<int64_t>(cfg.channels) * cfg.temporal_patch_size * cfg.patch_size * cfg.patch_size;
}

void preprocess_frame(const uint8_t* rgb, int h, int w, int out_h, int out_w, const float mean[3], const float std[3],
                      float* patches_out, const VisionPatchConfig& cfg) {
  check_dims(h, w, out_h, out_w, cfg);
  require(rgb != nullptr && patches_out != nullptr, ErrorCode::InvalidInput, "preprocess_frame: null buffer");
  std::vector<uint8_t> resized(static_cast<size_t>(out_h) * out_w * 3);
  resize_bicubic_aa_u8(rgb, h, w, 3, out_h, out_w, resized.data());

  // The processor fuses rescale (1/255) into normalise: x' = (x - mean*255) / (std*255) in float32,
  // with mean*255 and std*255 themselves rounded to float32.
  const float rescale_inv = static_cast<float>(1.0 / (1.0 / 255.0));
  float m[3], s[3], lut[3][256];
  for (int ch = 0; ch < 3; ++ch) {
    require(std[ch] != 0.0f, ErrorCode::InvalidInput, "preprocess_frame: image_std[" + std::to_string(ch) + "] is 0");
    m[ch] = mean[ch] * rescale_inv;
    s[ch] = std[ch] * rescale_inv;
    for (int v = 0; v < 256; ++v) lut[ch][v] = (static_cast<float>(v) - m[ch]) / s[ch];
  }

  const int ps = cfg.patch_size, ms = cfg.merge_size, tp = cfg.temporal_patch_size;
  const int gw = out_w / ps, groups_h = out_h / ps / ms, groups_w = gw / ms;
  const size_t plane = static_cast<size_t>(ps) * ps;
  float* out = patches_out;
  for (int bh = 0; bh < groups_h; ++bh)
    for (int bw = 0; bw < groups_w; ++bw)
      for (int mh = 0; mh < ms; ++mh)
        for (int mw = 0; mw < ms; ++mw) {
          const int y0 = (bh * ms + mh) * ps, x0 = (bw * ms + mw) * ps;
          for (int ch = 0; ch < 3; ++ch) {
            float* first = out;
            for (int py = 0; py < ps; ++py) {
              const uint8_t* px = &resized[(static_cast<size_t>(y0 + py) * out_w + x0) * 3 + ch];
              for (int pxi = 0; pxi < ps; ++pxi) *out++ = lut[ch][px[3 * pxi]];
            }
            // A still frame fills every temporal slot with the same pixels.
            for (int t = 1; t < tp; ++t, out += plane) std::copy(first, first + plane, out);
          }
        }
}

void preprocess_frames(std::span<const FrameView> frames, int out_h, int out_w, const float mean[3],
                       const float std[3], float* out, const VisionPatchConfig& cfg, int max_threads) {
  const std::vector<ImageSize> sizes(frames.size(), ImageSize{out_h, out_w});
  preprocess_frames(frames, sizes, mean, std, out, cfg, max_threads);
}

void preprocess_frames(std::span<const FrameView> frames, std::span<const ImageSize> sizes, const float mean[3],
                       const float std[3], float* out, const VisionPatchConfig& cfg, int max_threads) {
  require(sizes.size() == frames.size(), ErrorCode::InvalidInput,
          "preprocess_frames: " + std::to_string(sizes.size()) + " sizes for " + std::to_string(frames.size()) + " frames");
  std::vector<size_t> offset(frames.size() + 1, 0);
  for (size_t i = 0; i < frames.size(); ++i)
    offset[i + 1] = offset[i] + static_cast<size_t>(patches_per_image(sizes[i].height, sizes[i].width, cfg) * patch_dim(cfg));
  unsigned n_threads = max_threads > 0 ? static_cast<unsigned>(max_threads) : std::max(1u, std::thread::hardware_concurrency());
  n_threads = std::min<unsigned>(n_threads, static_cast<unsigned>(frames.size()));
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  const std::atomic<bool>* cancel = current_cancel_flag();  // an aborted plan stops between frames
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < frames.size();) {
      if (failed.load() || (cancel && cancel->load(std::memory_order_relaxed))) return;
      try {
        const FrameView& f = frames[i];
        preprocess_frame(f.rgb, f.height, f.width, sizes[i].height, sizes[i].width, mean, std, out + offset[i], cfg);
      } catch (const Error& e) {
        if (!failed.exchange(true)) error = std::make_exception_ptr(Error(e.code(), "frame " + std::to_string(i) + ": " + e.what()));
        return;
      } catch (...) {
        if (!failed.exchange(true)) error = std::current_exception();
        return;
      }
    }
  };
  if (n_threads <= 1) {
    work();
  } else {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < n_threads; ++t) pool.emplace_back(work);
  }
  if (error) std::rethrow_exception(error);
  check_cancelled();
}

}  // namespace alp::model
