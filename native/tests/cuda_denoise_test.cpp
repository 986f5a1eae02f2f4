// Denoising-loop kernels: Philox noise, action Fourier features, Euler update. The host halves run on
// every machine (Random123 KAT, golden numbers from native/backends/cuda/tools/gen_cuda_golden.py); the
// device halves compare the kernels with their host twins and skip without a GPU.
#if ALPAMAYO_HAVE_CUDA
#include <cmath>
#include <vector>

#include "backends/cuda/action_fourier.hpp"
#include "backends/cuda/denoise_update.hpp"
#include "backends/cuda/noise.hpp"
#include "backends/cuda/philox.cuh"
#include "backends/cuda/resources.hpp"
#include "core/error.hpp"
#include "model/expert.hpp"
#include "model/philox.hpp"
#include "tests/check.hpp"
#include "tests/cuda_test_util.hpp"

using namespace alp::cuda;

namespace {
// The model's frequencies (model::fourier_freqs, the one formula): 10 of them up to 100.
std::vector<float> fourier_freqs_10_100() { return alp::model::fourier_freqs(alp::model::ActionInProjConfig{0, 2, 20, 100.0}); }
}  // namespace

TEST(cuda_philox_kat) {
  struct Kat {
    philox::U32x4 ctr;
    uint32_t k0, k1;
    uint32_t expect[4];
  };
  // Random123 kat_vectors for philox4x32_10.
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff,
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0,
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    const philox::U32x4 r = philox::philox4x32_10(k.ctr, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) CHECK_EQ(r.v[i], k.expect[i]);
  }
}

TEST(cuda_noise_host_matches_cpu_philox) {
  // The CPU sampler's mapping (model/philox.hpp): stream == the kernel's offset. Identical floats;
  // philox.hpp allows 1 ulp for libm differences in double, none appear on this host.
  for (uint64_t seed : {uint64_t{0}, uint64_t{42}, uint64_t{0x1234567890abcdefull}})
    for (uint64_t stream : {uint64_t{0}, uint64_t{7}, uint64_t{1} << 40}) {
      std::vector<float> want(1027), got(1027);
      alp::model::fill_philox_normal(seed, stream, 0, want);
      normal_noise_host(got.data(), 1027, seed, stream);
      int mismatches = 0;
      for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != want[i];
      CHECK_EQ(mismatches, 0);
    }
}

TEST(cuda_noise_device_matches_cpu_philox) {
  REQUIRE_CUDA_DEVICE();
  const int64_t n = 64 * 2 * 6 + 3;  // six (64, 2) samples and a ragged tail block
  for (uint64_t seed : {uint64_t{1}, uint64_t{0xdeadbeefcafef00dull}}) {
    std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
    alp::model::fill_philox_normal(seed, 3, 0, want);
    DeviceBuffer d(size_t(n) * 4);
    Stream s;
    launch_normal_noise(d.as<float>(), n, seed, 3, s.get());
    s.synchronize();
    d.download(got.data(), got.size() * 4);
    int beyond_one_ulp = 0;
    for (size_t i = 0; i < got.size(); ++i)
      beyond_one_ulp += std::fabs(got[i] - want[i]) > std::fabs(want[i]) * 1.2e-7f;
    CHECK_EQ(beyond_one_ulp, 0);
  }
}

TEST(cuda_noise_host_matches_golden_and_is_standard_normal) {
  const float golden[10] = {-0.0114245266f, -0.993769705f, -1.53422737f, 0.433577597f, 1.04951072f,
                            0.828680694f,  0.678624988f,  0.466834873f, -1.32358086f, -0.620695114f};
  std::vector<float> z(10);
  normal_noise_host(z.data(), 10, 0x1234567890abcdefull, 7);
  for (int i = 0; i < 10; ++i) CHECK_EQ(z[size_t(i)], golden[i]);

  const int64_t n = 200000;
  std::vector<float> big(static_cast<size_t>(n));
  normal_noise_host(big.data(), n, 42, 0);
  double m = 0, m2 = 0, m4 = 0;
  for (float v : big) m += v;
  m /= n;
  for (float v : big) {
    m2 += (v - m) * (v - m);
    m4 += std::pow(v - m, 4);
  }
  m2 /= n;
  m4 /= n;
  CHECK_NEAR(m, 0.0, 0.01);            // 4.5 sigma of the sample mean
  CHECK_NEAR(m2, 1.0, 0.015);
  CHECK_NEAR(m4 / (m2 * m2), 3.0, 0.06);  // Gaussian kurtosis
  // A different offset is a different stream.
  std::vector<float> other(10);
  normal_noise_host(other.data(), 10, 42, 1);
  CHECK(other[0] != big[0] && other[5] != big[5]);
}

TEST(cuda_noise_device_matches_host) {
  REQUIRE_CUDA_DEVICE();
  const int64_t n = 6 * 64 * 2 + 3;  // ragged tail: last Philox block half used
  Stream s;
  DeviceBuffer d(size_t(n) * 4);
  launch_normal_noise(d.as<float>(), n, 0xfeedbeefcafe1234ull, 3, s.get());
  s.synchronize();
  std::vector<float> got(static_cast<size_t>(n)), want(static_cast<size_t>(n));
  d.download(got.data(), got.size() * 4);
  normal_noise_host(want.data(), n, 0xfeedbeefcafe1234ull, 3);
  int mismatches = 0;
  for (int64_t i = 0; i < n; ++i) mismatches += got[size_t(i)] != want[size_t(i)];
  CHECK_EQ(mismatches, 0);
}

TEST(cuda_fourier_freqs_match_torch_logspace) {
  const float golden[10] = {1.0f, 1.6681006f, 2.78255939f, 4.64158869f, 7.74263668f,
                            12.9154968f, 21.5443478f, 35.9381371f, 59.9484253f, 100.0f};
  const std::vector<float> f = fourier_freqs_10_100();
  CHECK_EQ(f.size(), size_t(10));
  for (int i = 0; i < 10; ++i) CHECK_EQ(f[size_t(i)], golden[i]);
}

namespace {
std::vector<float> fourier_inputs() {
  alp::test::Lcg g(42);
  std::vector<float> x(6);
  for (float& v : x) v = g.uniform() * 4.0f;
  return x;
}
}  // namespace

TEST(cuda_fourier_host_matches_torch) {
  // Row 2 of the reference FourierEncoderV2 features for (accel, curvature, t = 0.3).
  const float golden[60] = {
      0.510825336f, 0.801969707f, 0.0903508067f, -1.31284773f, 1.18710613f, -0.925754249f, 0.431357235f,
      -1.36195004f, 0.855529428f, 0.956444085f, -1.31873333f, -1.16483676f, 1.4113245f, -0.525766671f,
      0.768621504f, -1.06910205f, 1.3468225f, 0.380909681f, -1.12608588f, 1.04173625f, 1.36940956f,
      -1.27045929f, 0.406223446f, 0.77573669f, -1.16515541f, 0.420813531f, 1.1781646f, -1.37326658f,
      -1.37946153f, -0.149792269f, 0.353153259f, -0.621235132f, -1.35461533f, -1.18246889f, -0.801506579f,
      1.35015404f, -0.782258332f, 0.337844342f, 0.311585963f, 1.40625823f, 1.34499693f, -0.00382300653f,
      -1.21832168f, 0.88438797f, 1.26886249f, -1.00220025f, 0.323183745f, -1.38670588f, -0.137264147f,
      2.22537601e-05f, -0.437016249f, -1.41420841f, 0.718117237f, -1.10356593f, -0.624490201f, 0.997794926f,
      -1.37679064f, 0.277573079f, 1.40753627f, 1.41421354f};
  const std::vector<float> x = fourier_inputs();
  std::vector<float> out(3 * 60);
  action_fourier_host(x.data(), 3, 2, 0.3f, fourier_freqs_10_100(), out.data());
  for (int i = 0; i < 60; ++i) CHECK_NEAR(out[size_t(2 * 60 + i)], golden[i], 2e-6);
  CHECK_THROWS_CODE(action_fourier_host(x.data(), 3, 2, 0.3f, {}, out.data()), alp::ErrorCode::InvalidInput, "freqs");
}

TEST(cuda_fourier_device_matches_host) {
  REQUIRE_CUDA_DEVICE();
  const int64_t rows = 6 * 64;
  alp::test::Lcg g(7);
  std::vector<float> x(size_t(rows) * 2);
  for (float& v : x) v = g.uniform() * 5.0f;
  const std::vector<float> freqs = fourier_freqs_10_100();
  Stream s;
  DeviceBuffer dx(x.size() * 4), dout(size_t(rows) * 60 * 4);
  dx.upload(x.data(), x.size() * 4);
  launch_action_fourier(dx.as<float>(), rows, 2, 0.7f, freqs, dout.as<float>(), s.get());
  s.synchronize();
  std::vector<float> got(size_t(rows) * 60), want(got.size());
  dout.download(got.data(), got.size() * 4);
  action_fourier_host(x.data(), rows, 2, 0.7f, freqs, want.data());
  // Same fp32 argument on both sides; sinf/cosf differ by at most a couple of ulp.
  CHECK(alp::test::max_abs_diff(got, want) <= 1e-6);
}

TEST(cuda_euler_update_matches_host) {
  REQUIRE_CUDA_DEVICE();
  const int64_t n = 6 * 64 * 2;
  alp::test::Lcg g(3);
  std::vector<float> x(static_cast<size_t>(n)), v(static_cast<size_t>(n));
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = g.uniform() * 3.0f;
    v[i] = g.uniform() * 10.0f;
  }
  Stream s;
  DeviceBuffer dx(x.size() * 4), dv(v.size() * 4);
  dx.upload(x.data(), x.size() * 4);
  dv.upload(v.data(), v.size() * 4);
  const float dt = 0.1f;
  for (int step = 0; step < 10; ++step) launch_euler_update(dx.as<float>(), dv.as<float>(), dt, n, s.get());
  s.synchronize();
  std::vector<float> got(x.size());
  dx.download(got.data(), got.size() * 4);
  std::vector<float> want = x;
  for (int step = 0; step < 10; ++step)
    for (size_t i = 0; i < want.size(); ++i) {
      volatile float prod = dt * v[i];  // two roundings, as x = x + dt * v in PyTorch
      want[i] = want[i] + prod;
    }
  int mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != want[i];
  CHECK_EQ(mismatches, 0);
  CHECK_NEAR(got[0], x[0] + 10 * 0.1 * v[0], 1e-5);
}
#endif
