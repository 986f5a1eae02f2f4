#include <algorithm>
#include <cmath>
#include <string>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/preprocess.hpp"
#include "model/bicubic_taps.hpp"

namespace alp::cuda {
namespace {

struct AxisView {
  const int32_t* start;
  const float* w;
  const int32_t* wq;
  const int32_t* wt;
  int taps;
  int torch_precision;
};

struct NormParams {
  float mean255[3], std255[3];
};

struct Layout {
  int patch, temporal, merge, grid_h, grid_w;
  int64_t patch_dim;
};

__host__ __device__ inline uint8_t clip8_shifted(int32_t acc) {
  const int32_t v = acc >> kResamplePrecisionBits;  // arithmetic shift: floor, as Pillow
  return static_cast<uint8_t>(v <= 0 ? 0 : (v >= 255 ? 255 : v));
}

// One resampled value along an axis: `src(i)` reads input sample i. fmaf on host and device alike so
// the float path is bit-identical between the kernel and its twin.
template <class Src>
__host__ __device__ inline float resample_float(const AxisView& ax, int o, Src src) {
  const int s0 = ax.start[o];
  const float* w = ax.w + int64_t(o) * ax.taps;
  float acc = 0.0f;
  for (int j = 0; j < ax.taps; ++j)
    if (w[j] != 0.0f) acc = fmaf(w[j], src(s0 + j), acc);
  return acc;
}
template <class Src>
__host__ __device__ inline float resample_fixed(const AxisView& ax, int o, Src src) {
  const int s0 = ax.start[o];
  const int32_t* w = ax.wq + int64_t(o) * ax.taps;
  int32_t acc = 1 << (kResamplePrecisionBits - 1);
  for (int j = 0; j < ax.taps; ++j)
    if (w[j] != 0) acc += static_cast<int32_t>(src(s0 + j)) * w[j];
  return static_cast<float>(clip8_shifted(acc));
}

// torch's uint8 path: taps with a per-axis precision, accumulator seeded with half an lsb, floor shift.
template <class Src>
__host__ __device__ inline float resample_torch_u8(const AxisView& ax, int o, Src src) {
  const int s0 = ax.start[o];
  const int32_t* w = ax.wt + int64_t(o) * ax.taps;
  int32_t acc = 1 << (ax.torch_precision - 1);
  for (int j = 0; j < ax.taps; ++j)
    if (w[j] != 0) acc += static_cast<int32_t>(src(s0 + j)) * w[j];
  const int32_t v = acc >> ax.torch_precision;
  return static_cast<float>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

__host__ __device__ inline float to_u8_float(float v) {
  // torchvision: clamp to [0, 255] then round half to even.
  return rintf(fminf(fmaxf(v, 0.0f), 255.0f));
}

// Where pixel (y, x) of frame f lands in the patch rows (merge order: merge-block row, merge-block col,
// row within block, col within block; inside a patch: channel, temporal copy, py, px).
__host__ __device__ inline int64_t patch_offset(const Layout& L, int f, int y, int x, int c, int t) {
  const int gh = y / L.patch, py = y % L.patch, gw = x / L.patch, px = x % L.patch;
  const int bh = gh / L.merge, mh = gh % L.merge, bw = gw / L.merge, mw = gw % L.merge;
  const int64_t patch = int64_t(f) * L.grid_h * L.grid_w +
                        ((int64_t(bh) * (L.grid_w / L.merge) + bw) * L.merge + mh) * L.merge + mw;
  return patch * L.patch_dim + ((int64_t(c) * L.temporal + t) * L.patch + py) * L.patch + px;
}

__host__ __device__ inline void horizontal_pixel(const uint8_t* in, float* mid, AxisView ax, ResizeMode mode, int in_w,
                                                 int out_w, int64_t row, int ox) {
  const uint8_t* src_row = in + row * in_w * 3;
  for (int c = 0; c < 3; ++c) {
    auto src = [&](int i) { return static_cast<float>(src_row[int64_t(i) * 3 + c]); };
    auto srci = [&](int i) { return static_cast<int32_t>(src_row[int64_t(i) * 3 + c]); };
    mid[(row * out_w + ox) * 3 + c] = mode == ResizeMode::TorchU8         ? resample_torch_u8(ax, ox, srci)
                                      : mode == ResizeMode::PilFixedPoint ? resample_fixed(ax, ox, srci)
                                                                          : resample_float(ax, ox, src);
  }
}

__host__ __device__ inline void vertical_pixel(const float* mid, float* out, AxisView ax, ResizeMode mode, int in_h,
                                               int out_w, int f, int oy, int ox, const NormParams& np,
                                               const Layout& L) {
  const float* base = mid + int64_t(f) * in_h * out_w * 3;
  for (int c = 0; c < 3; ++c) {
    auto src = [&](int i) { return base[(int64_t(i) * out_w + ox) * 3 + c]; };
    auto srci = [&](int i) { return static_cast<int32_t>(base[(int64_t(i) * out_w + ox) * 3 + c]); };
    const float u8 = mode == ResizeMode::TorchU8         ? resample_torch_u8(ax, oy, srci)
                     : mode == ResizeMode::PilFixedPoint ? resample_fixed(ax, oy, srci)
                                                         : to_u8_float(resample_float(ax, oy, src));
    const float v = (u8 - np.mean255[c]) / np.std255[c];
    for (int t = 0; t < L.temporal; ++t) out[patch_offset(L, f, oy, ox, c, t)] = v;
  }
}

__global__ void horizontal_kernel(const uint8_t* __restrict__ in, float* __restrict__ mid, AxisView ax, ResizeMode mode,
                                  int n_rows, int in_w, int out_w) {
  const int64_t total = int64_t(n_rows) * out_w;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    horizontal_pixel(in, mid, ax, mode, in_w, out_w, i / out_w, static_cast<int>(i % out_w));
}

__global__ void vertical_patchify_kernel(const float* __restrict__ mid, float* __restrict__ out, AxisView ax,
                                         ResizeMode mode, int n_frames, int in_h, int out_h, int out_w, NormParams np,
                                         Layout L) {
  const int64_t total = int64_t(n_frames) * out_h * out_w;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int ox = static_cast<int>(i % out_w);
    const int64_t r = i / out_w;
    vertical_pixel(mid, out, ax, mode, in_h, out_w, static_cast<int>(r / out_h), static_cast<int>(r % out_h), ox, np, L);
  }
}

NormParams norm_params(const PreprocessConfig& cfg) {
  NormParams np{};
  for (int c = 0; c < 3; ++c) {
    require(cfg.std[c] > 0.0f, ErrorCode::InvalidInput,
            "preprocess: std[" + std::to_string(c) + "] = " + std::to_string(cfg.std[c]) + ", expected > 0");
    np.mean255[c] = static_cast<float>(double(cfg.mean[c]) * 255.0);
    np.std255[c] = static_cast<float>(double(cfg.std[c]) * 255.0);
  }
  return np;
}

Layout layout(const PreprocessConfig& cfg, const PatchGeometry& g) {
  return Layout{cfg.patch, cfg.temporal, cfg.merge, g.grid_h, g.grid_w, g.patch_dim};
}

void check_sizes(int n_frames, int in_h, int in_w) {
  require(n_frames >= 1 && in_h >= 1 && in_w >= 1, ErrorCode::InvalidInput,
          "preprocess: frames " + std::to_string(n_frames) + " of " + std::to_string(in_h) + "x" + std::to_string(in_w) +
              ", expected at least one frame of at least 1x1");
}

// Packs start | w | wq into one buffer so one copy uploads an axis.
DeviceBuffer upload_axis(const ResampleAxis& ax) {
  const size_t n = size_t(ax.out_size), k = size_t(ax.out_size) * ax.taps;
  DeviceBuffer b(n * 4 + 3 * k * 4);
  b.upload(ax.start.data(), n * 4, 0);
  b.upload(ax.w.data(), k * 4, n * 4);
  b.upload(ax.wq.data(), k * 4, n * 4 + k * 4);
  b.upload(ax.wt.data(), k * 4, n * 4 + 2 * k * 4);
  return b;
}
AxisView device_view(const DeviceBuffer& b, const ResampleAxis& ax) {
  const size_t n = size_t(ax.out_size), k = size_t(ax.out_size) * ax.taps;
  const char* p = static_cast<const char*>(b.get());
  return AxisView{reinterpret_cast<const int32_t*>(p), reinterpret_cast<const float*>(p + n * 4),
                  reinterpret_cast<const int32_t*>(p + n * 4 + k * 4), reinterpret_cast<const int32_t*>(p + n * 4 + 2 * k * 4),
                  ax.taps, ax.torch_precision};
}
AxisView host_view(const ResampleAxis& ax) {
  return AxisView{ax.start.data(), ax.w.data(), ax.wq.data(), ax.wt.data(), ax.taps, ax.torch_precision};
}

int grid_for(int64_t total, int threads) {
  return static_cast<int>(std::clamp<int64_t>((total + threads - 1) / threads, 1, 1 << 20));
}

// torch's uint8 antialiased bicubic taps: model::bicubic_taps (the CPU preprocess's, bit-exact against
// torch), laid out in this axis's Pillow tap windows.
void add_torch_taps(ResampleAxis& ax) {
  const model::BicubicTaps t = model::bicubic_taps(ax.in_size, ax.out_size);
  ax.torch_precision = t.precision;
  ax.wt.assign(size_t(ax.out_size) * ax.taps, 0);
  for (int o = 0; o < ax.out_size; ++o) {
    require(t.first[size_t(o)] == ax.start[size_t(o)] && t.count[size_t(o)] <= ax.taps, ErrorCode::Internal,
            "resample: torch and Pillow tap windows disagree");
    for (int j = 0; j < t.count[size_t(o)]; ++j) ax.wt[size_t(o) * ax.taps + j] = t.k[size_t(o) * t.max_count + j];
  }
}

}  // namespace

ResampleAxis make_bicubic_axis(int in_size, int out_size) {
  require(in_size >= 1 && out_size >= 1, ErrorCode::InvalidInput,
          "resample: sizes " + std::to_string(in_size) + " -> " + std::to_string(out_size) + ", expected >= 1");
  ResampleAxis ax;
  ax.in_size = in_size;
  ax.out_size = out_size;
  const double scale = double(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  ax.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  ax.start.assign(size_t(out_size), 0);
  ax.w.assign(size_t(out_size) * ax.taps, 0.0f);
  ax.wq.assign(size_t(out_size) * ax.taps, 0);
  std::vector<double> k(size_t(ax.taps));
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double sum = 0.0;
    for (int j = 0; j < ax.taps; ++j) {
      k[size_t(j)] = j < xmax ? model::bicubic_kernel((j + xmin - center + 0.5) / filterscale) : 0.0;
      sum += k[size_t(j)];
    }
    ax.start[size_t(o)] = xmin;
    for (int j = 0; j < ax.taps; ++j) {
      const double kn = sum != 0.0 ? k[size_t(j)] / sum : 0.0;
      const size_t idx = size_t(o) * ax.taps + j;
      ax.w[idx] = static_cast<float>(kn);
      const double q = kn * double(1 << kResamplePrecisionBits);
      ax.wq[idx] = static_cast<int32_t>(kn < 0 ? q - 0.5 : q + 0.5);  // Pillow: round half away, then truncate
    }
  }
  add_torch_taps(ax);
  return ax;
}

PatchGeometry patch_geometry(const PreprocessConfig& cfg, int out_h, int out_w) {
  const int unit = cfg.patch * cfg.merge;
  require(cfg.patch >= 1 && cfg.merge >= 1 && cfg.temporal >= 1, ErrorCode::InvalidInput,
          "preprocess: patch/merge/temporal must be >= 1");
  require(out_h >= unit && out_h % unit == 0, ErrorCode::InvalidInput,
          "preprocess: output height " + std::to_string(out_h) + " is not a positive multiple of patch*merge = " +
              std::to_string(unit));
  require(out_w >= unit && out_w % unit == 0, ErrorCode::InvalidInput,
          "preprocess: output width " + std::to_string(out_w) + " is not a positive multiple of patch*merge = " +
              std::to_string(unit));
  PatchGeometry g;
  g.grid_h = out_h / cfg.patch;
  g.grid_w = out_w / cfg.patch;
  g.patch_dim = int64_t(3) * cfg.temporal * cfg.patch * cfg.patch;
  return g;
}

void ImagePreprocessor::prepare(int n_frames, int in_h, int in_w, int out_h, int out_w) {
  if (in_w != in_w_ || out_w != out_w_) {
    ax_w_ = make_bicubic_axis(in_w, out_w);
    d_tab_w_ = upload_axis(ax_w_);
  }
  if (in_h != in_h_ || out_h != out_h_) {
    ax_h_ = make_bicubic_axis(in_h, out_h);
    d_tab_h_ = upload_axis(ax_h_);
  }
  const size_t in_bytes = size_t(n_frames) * in_h * in_w * 3;
  const size_t mid_bytes = size_t(n_frames) * in_h * out_w * 3 * sizeof(float);
  if (d_frames_.bytes() < in_bytes) d_frames_ = DeviceBuffer(in_bytes);
  if (d_mid_.bytes() < mid_bytes) d_mid_ = DeviceBuffer(mid_bytes);
  in_h_ = in_h;
  in_w_ = in_w;
  out_h_ = out_h;
  out_w_ = out_w;
  frames_cap_ = std::max(frames_cap_, n_frames);
}

void ImagePreprocessor::run(const uint8_t* frames, int n_frames, int in_h, int in_w, int out_h, int out_w, float* out,
                            cudaStream_t s) {
  check_sizes(n_frames, in_h, in_w);
  const PatchGeometry g = patch_geometry(cfg_, out_h, out_w);
  const NormParams np = norm_params(cfg_);
  // Table uploads are synchronous; wait for earlier work on `s` that may still read the old tables.
  if (in_h != in_h_ || in_w != in_w_ || out_h != out_h_ || out_w != out_w_) check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  prepare(n_frames, in_h, in_w, out_h, out_w);
  const ResizeMode fixed = cfg_.mode;
  const size_t in_bytes = size_t(n_frames) * in_h * in_w * 3;
  check(cudaMemcpyAsync(d_frames_.get(), frames, in_bytes, cudaMemcpyHostToDevice, s), "cudaMemcpyAsync(frames H2D)");
  const int threads = 256;
  const int64_t h_total = int64_t(n_frames) * in_h * out_w;
  horizontal_kernel<<<grid_for(h_total, threads), threads, 0, s>>>(d_frames_.as<uint8_t>(), d_mid_.as<float>(),
                                                                   device_view(d_tab_w_, ax_w_), fixed, n_frames * in_h,
                                                                   in_w, out_w);
  check_launch("horizontal_kernel");
  const int64_t v_total = int64_t(n_frames) * out_h * out_w;
  vertical_patchify_kernel<<<grid_for(v_total, threads), threads, 0, s>>>(
      d_mid_.as<float>(), out, device_view(d_tab_h_, ax_h_), fixed, n_frames, in_h, out_h, out_w, np, layout(cfg_, g));
  check_launch("vertical_patchify_kernel");
}

void preprocess_host(const PreprocessConfig& cfg, const uint8_t* frames, int n_frames, int in_h, int in_w, int out_h,
                     int out_w, float* out) {
  check_sizes(n_frames, in_h, in_w);
  const PatchGeometry g = patch_geometry(cfg, out_h, out_w);
  const NormParams np = norm_params(cfg);
  const Layout L = layout(cfg, g);
  const ResampleAxis aw = make_bicubic_axis(in_w, out_w), ah = make_bicubic_axis(in_h, out_h);
  const ResizeMode fixed = cfg.mode;
  std::vector<float> mid(size_t(n_frames) * in_h * out_w * 3);
  for (int64_t row = 0; row < int64_t(n_frames) * in_h; ++row)
    for (int ox = 0; ox < out_w; ++ox) horizontal_pixel(frames, mid.data(), host_view(aw), fixed, in_w, out_w, row, ox);
  for (int f = 0; f < n_frames; ++f)
    for (int oy = 0; oy < out_h; ++oy)
      for (int ox = 0; ox < out_w; ++ox)
        vertical_pixel(mid.data(), out, host_view(ah), fixed, in_h, out_w, f, oy, ox, np, L);
}

}  // namespace alp::cuda
