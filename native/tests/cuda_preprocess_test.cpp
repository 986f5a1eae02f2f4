// Preprocessing kernels: the host twin is pinned to PyTorch's antialiased bicubic + the Qwen-VL
// processor's normalise/patchify (golden from native/backends/cuda/tools/gen_cuda_golden.py); the
// kernels are pinned to the twin on a GPU.
#if ALPAMAYO_HAVE_CUDA
#include <cmath>
#include <vector>

#include "backends/cuda/preprocess.hpp"
#include "backends/cuda/resources.hpp"
#include "core/error.hpp"
#include "model/preprocess.hpp"
#include "tests/check.hpp"
#include "tests/cuda_test_util.hpp"

using namespace alp::cuda;

namespace {
std::vector<uint8_t> lcg_frames(int n, int h, int w, uint64_t seed) {
  alp::test::Lcg g(seed);
  std::vector<uint8_t> f(size_t(n) * h * w * 3);
  for (uint8_t& b : f) b = static_cast<uint8_t>(g.next() & 0xff);
  return f;
}
}  // namespace

TEST(cuda_preprocess_axis_weights) {
  // 1080 -> 320: scale 3.375, support 6.75 -> 15 taps; every row of weights sums to 1 (2^22 fixed).
  const ResampleAxis ax = make_bicubic_axis(1080, 320);
  CHECK_EQ(ax.taps, 15);
  for (int o = 0; o < ax.out_size; o += 37) {
    double s = 0;
    int64_t sq = 0;
    for (int j = 0; j < ax.taps; ++j) {
      s += ax.w[size_t(o * ax.taps + j)];
      sq += ax.wq[size_t(o * ax.taps + j)];
    }
    CHECK_NEAR(s, 1.0, 1e-6);
    CHECK_NEAR(double(sq), double(1 << kResamplePrecisionBits), 8.0);
    CHECK(ax.start[size_t(o)] >= 0 && ax.start[size_t(o)] + ax.taps <= 1080 + ax.taps);
  }
  // Same size: the bicubic kernel is 1 at 0 and 0 at the other integers, so resampling is the identity.
  const ResampleAxis id = make_bicubic_axis(64, 64);
  for (int o = 0; o < 64; ++o)
    for (int j = 0; j < id.taps; ++j) {
      const bool centre = id.start[size_t(o)] + j == o;
      CHECK_EQ(id.w[size_t(o * id.taps + j)], centre ? 1.0f : 0.0f);
      CHECK_EQ(id.wq[size_t(o * id.taps + j)], centre ? (1 << kResamplePrecisionBits) : 0);
    }
  CHECK_THROWS_CODE(make_bicubic_axis(0, 5), alp::ErrorCode::InvalidInput, "resample");
}

TEST(cuda_preprocess_host_matches_torch) {
  const int n = 2, ih = 45, iw = 150, oh = 32, ow = 64;
  const std::vector<uint8_t> frames = lcg_frames(n, ih, iw, 9);
  PreprocessConfig cfg;  // mean = std = 0.5
  cfg.mode = ResizeMode::Float;  // the golden numbers are torchvision's float path
  const PatchGeometry g = patch_geometry(cfg, oh, ow);
  CHECK_EQ(g.grid_h, 2);
  CHECK_EQ(g.grid_w, 4);
  CHECK_EQ(g.patch_dim, int64_t(1536));
  std::vector<float> out(size_t(n * g.patches_per_image() * g.patch_dim));
  preprocess_host(cfg, frames.data(), n, ih, iw, oh, ow, out.data());
  double sum = 0, sq = 0;
  for (float v : out) {
    sum += v;
    sq += double(v) * v;
  }
  // A one-level rounding flip moves the sum by 2/127.5 (two temporal copies); allow a few.
  CHECK_NEAR(sum, -24.015687, 0.07);
  CHECK_NEAR(sq, 1695.340898, 0.2);
  const float row5[16] = {0.0274509806f, 0.145098045f, 0.0823529437f, 0.152941182f, 0.105882354f, -0.137254909f,
                          -0.490196079f, -0.505882382f, -0.294117659f, -0.152941182f, -0.0588235296f, -0.223529413f,
                          0.466666669f,  0.0823529437f, 0.00392156886f, -0.254901975f};
  const float row13[16] = {0.372549027f, 0.521568656f, 0.396078438f, 0.113725491f, -0.0588235296f, -0.262745112f,
                           0.0196078438f, 0.176470593f, 0.325490206f, -0.372549027f, 0.105882354f, -0.168627456f,
                           0.0745098069f, -0.396078438f, 0.0274509806f, 0.301960796f};
  for (int k = 0; k < 8; ++k) {
    CHECK_NEAR(out[size_t(5 * 1536 + k)], row5[k], 0.008);
    CHECK_NEAR(out[size_t(5 * 1536 + 700 + k)], row5[8 + k], 0.008);
    CHECK_NEAR(out[size_t(13 * 1536 + k)], row13[k], 0.008);
    CHECK_NEAR(out[size_t(13 * 1536 + 700 + k)], row13[8 + k], 0.008);
  }
  // Both temporal copies are the same image.
  for (int k = 0; k < 256; ++k) CHECK_EQ(out[size_t(3 * 1536 + k)], out[size_t(3 * 1536 + 256 + k)]);
}

TEST(cuda_preprocess_host_invariants) {
  // A constant image stays constant through both resize conventions (weights sum to one).
  const int ih = 70, iw = 90, oh = 32, ow = 64;
  std::vector<uint8_t> frames(size_t(ih) * iw * 3);
  for (size_t i = 0; i < frames.size(); ++i) frames[i] = static_cast<uint8_t>(i % 3 == 0 ? 200 : (i % 3 == 1 ? 0 : 255));
  for (ResizeMode mode : {ResizeMode::TorchU8, ResizeMode::Float, ResizeMode::PilFixedPoint}) {
    PreprocessConfig cfg;
    cfg.mode = mode;
    cfg.mean[1] = 0.25f;
    cfg.std[2] = 0.125f;
    std::vector<float> out(size_t(8 * 1536));
    preprocess_host(cfg, frames.data(), 1, ih, iw, oh, ow, out.data());
    const float want[3] = {(200.0f - 127.5f) / 127.5f, (0.0f - 63.75f) / 127.5f, (255.0f - 127.5f) / 31.875f};
    int bad = 0;
    for (size_t p = 0; p < 8; ++p)
      for (int c = 0; c < 3; ++c)
        for (int k = 0; k < 512; ++k) bad += out[p * 1536 + size_t(c) * 512 + size_t(k)] != want[c];
    CHECK_EQ(bad, 0);
  }
  PreprocessConfig cfg;
  std::vector<float> out(1);
  CHECK_THROWS_CODE(preprocess_host(cfg, frames.data(), 1, ih, iw, 48, 64, out.data()), alp::ErrorCode::InvalidInput,
                    "output height 48");
}

TEST(cuda_preprocess_device_matches_host) {
  REQUIRE_CUDA_DEVICE();
  // Two modes, odd input sizes, a downscale in one axis and an upscale in the other.
  const int n = 3, ih = 203, iw = 57, oh = 96, ow = 64;
  const std::vector<uint8_t> frames = lcg_frames(n, ih, iw, 11);
  for (ResizeMode mode : {ResizeMode::TorchU8, ResizeMode::Float, ResizeMode::PilFixedPoint}) {
    PreprocessConfig cfg;
    cfg.mode = mode;
    const PatchGeometry g = patch_geometry(cfg, oh, ow);
    const size_t count = size_t(n * g.patches_per_image() * g.patch_dim);
    PinnedBuffer pinned(frames.size());
    std::copy(frames.begin(), frames.end(), pinned.as<uint8_t>());
    DeviceBuffer dout(count * 4);
    Stream s;
    ImagePreprocessor pre(cfg);
    pre.run(pinned.as<uint8_t>(), n, ih, iw, oh, ow, dout.as<float>(), s.get());
    s.synchronize();
    std::vector<float> got(count), want(count);
    dout.download(got.data(), count * 4);
    preprocess_host(cfg, frames.data(), n, ih, iw, oh, ow, want.data());
    int mismatches = 0;
    for (size_t i = 0; i < count; ++i) mismatches += got[i] != want[i];
    CHECK_EQ(mismatches, 0);
  }
}

namespace {
// The CPU reference (bit-exact against transformers' Qwen2VL processor) frame by frame.
std::vector<float> reference_patches(const std::vector<uint8_t>& frames, int n, int ih, int iw, int oh, int ow) {
  const float mean[3] = {0.5f, 0.5f, 0.5f}, stdv[3] = {0.5f, 0.5f, 0.5f};
  const size_t per = size_t(alp::model::patches_per_image(oh, ow) * alp::model::patch_dim());
  std::vector<float> out(per * n);
  for (int f = 0; f < n; ++f)
    alp::model::preprocess_frame(frames.data() + size_t(f) * ih * iw * 3, ih, iw, oh, ow, mean, stdv, out.data() + per * f);
  return out;
}
struct Case {
  int ih, iw, oh, ow;
};
// Downscale both axes (the camera case, odd factors), upscale both, mixed, and identity on one axis.
constexpr Case kTorchCases[] = {{45, 150, 32, 64}, {17, 23, 32, 64}, {100, 33, 64, 96}, {64, 201, 64, 128}, {270, 480, 96, 160}};
}  // namespace

TEST(cuda_preprocess_host_torch_u8_matches_cpu_reference) {
  // Runs without a GPU: the twin shares every tap and rounding step with the kernel.
  for (const Case& c : kTorchCases) {
    const int n = 2;
    const std::vector<uint8_t> frames = lcg_frames(n, c.ih, c.iw, 31 + c.ih);
    PreprocessConfig cfg;
    CHECK(cfg.mode == ResizeMode::TorchU8);  // the default is the reference's algorithm
    const std::vector<float> want = reference_patches(frames, n, c.ih, c.iw, c.oh, c.ow);
    std::vector<float> got(want.size(), -99.f);
    preprocess_host(cfg, frames.data(), n, c.ih, c.iw, c.oh, c.ow, got.data());
    int mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != want[i];
    CHECK_EQ(mismatches, 0);
  }
  // The modes really differ: the float path disagrees with the uint8 path somewhere on a downscale.
  const std::vector<uint8_t> frames = lcg_frames(1, 45, 150, 3);
  PreprocessConfig fcfg;
  fcfg.mode = ResizeMode::Float;
  const std::vector<float> want = reference_patches(frames, 1, 45, 150, 32, 64);
  std::vector<float> got(want.size());
  preprocess_host(fcfg, frames.data(), 1, 45, 150, 32, 64, got.data());
  int diff = 0;
  for (size_t i = 0; i < got.size(); ++i) diff += got[i] != want[i];
  CHECK(diff > 0);
}

TEST(cuda_preprocess_device_torch_u8_matches_cpu_reference) {
  REQUIRE_CUDA_DEVICE();
  Stream s;
  ImagePreprocessor pre(PreprocessConfig{});
  for (const Case& c : kTorchCases) {
    const int n = 3;
    const std::vector<uint8_t> frames = lcg_frames(n, c.ih, c.iw, 77 + c.iw);
    const std::vector<float> want = reference_patches(frames, n, c.ih, c.iw, c.oh, c.ow);
    DeviceBuffer dout(want.size() * 4);
    pre.run(frames.data(), n, c.ih, c.iw, c.oh, c.ow, dout.as<float>(), s.get());
    s.synchronize();
    std::vector<float> got(want.size());
    dout.download(got.data(), got.size() * 4);
    int mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != want[i];
    CHECK_EQ(mismatches, 0);
  }
}

TEST(cuda_preprocess_device_full_camera_batch) {
  REQUIRE_CUDA_DEVICE();
  // The production shape: 16 frames 1080x1920 -> 320x576 (720 patches each), one launch sequence.
  const int n = 16, ih = 1080, iw = 1920, oh = 320, ow = 576;
  PinnedBuffer pinned(size_t(n) * ih * iw * 3);
  alp::test::Lcg g(5);
  for (size_t i = 0; i < pinned.bytes(); ++i) pinned.as<uint8_t>()[i] = static_cast<uint8_t>(g.next() >> 24);
  PreprocessConfig cfg;
  const PatchGeometry geo = patch_geometry(cfg, oh, ow);
  CHECK_EQ(geo.patches_per_image(), int64_t(720));
  const size_t count = size_t(n * geo.patches_per_image() * geo.patch_dim);
  DeviceBuffer dout(count * 4);
  Stream s;
  ImagePreprocessor pre(cfg);
  Event t0(true), t1(true);
  pre.run(pinned.as<uint8_t>(), n, ih, iw, oh, ow, dout.as<float>(), s.get());  // warm-up: tables, scratch
  t0.record(s.get());
  pre.run(pinned.as<uint8_t>(), n, ih, iw, oh, ow, dout.as<float>(), s.get());
  t1.record(s.get());
  s.synchronize();
  std::cout << "    preprocess 16x1080x1920 -> 16x720x1536: " << t1.elapsed_ms_since(t0) << " ms (incl. H2D)\n";
  // Spot-check the last frame against the twin (the twin on all 16 frames would take seconds).
  std::vector<float> got(size_t(720 * 1536)), want(got.size());
  dout.download(got.data(), got.size() * 4, (count - got.size()) * 4);
  preprocess_host(cfg, pinned.as<uint8_t>() + size_t(15) * ih * iw * 3, 1, ih, iw, oh, ow, want.data());
  int mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != want[i];
  CHECK_EQ(mismatches, 0);
}
#endif
