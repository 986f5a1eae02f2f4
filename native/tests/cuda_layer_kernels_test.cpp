// Layer kernels against plain C++ references written from the PyTorch definitions (device only).
#if ALPAMAYO_HAVE_CUDA
#include <cuda_bf16.h>

#include <cmath>
#include <vector>

#include "backends/cuda/layer_kernels.hpp"
#include "backends/cuda/resources.hpp"
#include "core/error.hpp"
#include "tests/check.hpp"
#include "tests/cuda_test_util.hpp"

using namespace alp::cuda;

namespace {

std::vector<float> rand_vec(size_t n, uint64_t seed, float amp = 1.0f) {
  alp::test::Lcg g(seed);
  std::vector<float> v(n);
  for (float& x : v) x = g.uniform() * amp;
  return v;
}

DeviceBuffer to_device(const void* p, size_t bytes) {
  DeviceBuffer d(bytes);
  d.upload(p, bytes);
  return d;
}
template <class T> DeviceBuffer to_device(const std::vector<T>& v) { return to_device(v.data(), v.size() * sizeof(T)); }
template <class T> std::vector<T> from_device(const DeviceBuffer& d, size_t n) {
  std::vector<T> v(n);
  d.download(v.data(), n * sizeof(T));
  return v;
}

float round_bf16(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

}  // namespace

TEST(cuda_rmsnorm_layernorm_match_reference) {
  REQUIRE_CUDA_DEVICE();
  const int rows = 5, dim = 2048;
  const std::vector<float> x = rand_vec(size_t(rows) * dim, 1, 3.0f);
  std::vector<float> wf = rand_vec(dim, 2), bf = rand_vec(dim, 3);
  // bf16 weights: the reference uses the same rounded values.
  std::vector<__nv_bfloat16> wb(dim);
  for (int i = 0; i < dim; ++i) {
    wb[size_t(i)] = __float2bfloat16_rn(wf[size_t(i)]);
    wf[size_t(i)] = round_bf16(wf[size_t(i)]);
  }
  Stream s;
  DeviceBuffer dx = to_device(x), dw = to_device(wb), db = to_device(bf), dy(x.size() * 4);
  launch_rmsnorm(dx.as<float>(), {dw.get(), alp::DType::BF16}, dy.as<float>(), rows, dim, 1e-6f, s.get());
  s.synchronize();
  std::vector<float> got = from_device<float>(dy, x.size()), want(x.size());
  for (int r = 0; r < rows; ++r) {
    double ss = 0;
    for (int i = 0; i < dim; ++i) ss += double(x[size_t(r * dim + i)]) * x[size_t(r * dim + i)];
    const double inv = 1.0 / std::sqrt(ss / dim + 1e-6);
    for (int i = 0; i < dim; ++i) want[size_t(r * dim + i)] = float(wf[size_t(i)] * x[size_t(r * dim + i)] * inv);
  }
  CHECK(alp::test::max_abs_diff(got, want) < 1e-5);

  launch_layernorm(dx.as<float>(), {db.get(), alp::DType::F32}, {dw.get(), alp::DType::BF16}, dy.as<float>(), rows, dim,
                   1e-5f, s.get());
  CHECK_THROWS_CODE(launch_layernorm(dx.as<float>(), {dw.get(), alp::DType::BF16}, {db.get(), alp::DType::F32},
                                     dy.as<float>(), rows, dim, 1e-5f, s.get()),
                    alp::ErrorCode::InvalidInput, "bias dtype");
  launch_layernorm(dx.as<float>(), {db.get(), alp::DType::F32}, {}, dy.as<float>(), rows, dim, 1e-5f, s.get());
  s.synchronize();
  got = from_device<float>(dy, x.size());
  for (int r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int i = 0; i < dim; ++i) mean += x[size_t(r * dim + i)];
    mean /= dim;
    for (int i = 0; i < dim; ++i) var += (x[size_t(r * dim + i)] - mean) * (x[size_t(r * dim + i)] - mean);
    var /= dim;
    for (int i = 0; i < dim; ++i)
      want[size_t(r * dim + i)] = float((x[size_t(r * dim + i)] - mean) / std::sqrt(var + 1e-5) * bf[size_t(i)]);
  }
  CHECK(alp::test::max_abs_diff(got, want) < 1e-5);
}

TEST(cuda_rope_matches_rotate_half_reference) {
  REQUIRE_CUDA_DEVICE();
  const int tokens = 7, heads = 3, hd = 128;
  std::vector<float> x = rand_vec(size_t(tokens) * heads * hd, 4), cs(size_t(tokens) * hd), sn(cs.size());
  for (int t = 0; t < tokens; ++t)
    for (int i = 0; i < hd / 2; ++i) {
      const double ang = (t + 11) * std::pow(5e6, -2.0 * i / hd);
      cs[size_t(t * hd + i)] = cs[size_t(t * hd + i + hd / 2)] = float(std::cos(ang));
      sn[size_t(t * hd + i)] = sn[size_t(t * hd + i + hd / 2)] = float(std::sin(ang));
    }
  Stream s;
  DeviceBuffer dx = to_device(x), dc = to_device(cs), ds = to_device(sn);
  launch_rope(dx.as<float>(), dc.as<float>(), ds.as<float>(), tokens, heads, hd, s.get());
  s.synchronize();
  const std::vector<float> got = from_device<float>(dx, x.size());
  std::vector<float> want(x.size());
  for (int t = 0; t < tokens; ++t)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < hd; ++i) {
        const float* xv = &x[size_t((t * heads + h) * hd)];
        const float rot = i < hd / 2 ? -xv[i + hd / 2] : xv[i - hd / 2];
        want[size_t((t * heads + h) * hd + i)] = xv[i] * cs[size_t(t * hd + i)] + rot * sn[size_t(t * hd + i)];
      }
  CHECK(alp::test::max_abs_diff(got, want) < 1e-6);
  CHECK_THROWS_CODE(launch_rope(dx.as<float>(), dc.as<float>(), ds.as<float>(), 1, 1, 7, s.get()),
                    alp::ErrorCode::InvalidInput, "head_dim 7");
}

TEST(cuda_activations_and_add_match_reference) {
  REQUIRE_CUDA_DEVICE();
  const int rows = 3, inter = 1000;
  const std::vector<float> gu = rand_vec(size_t(rows) * 2 * inter, 5, 6.0f);
  Stream s;
  DeviceBuffer dgu = to_device(gu), dout(size_t(rows) * inter * 4), dg(size_t(rows) * 2 * inter * 4);
  launch_swiglu(dgu.as<float>(), dout.as<float>(), rows, inter, s.get());
  launch_gelu_tanh(dgu.as<float>(), dg.as<float>(), int64_t(gu.size()), s.get());
  s.synchronize();
  std::vector<float> got = from_device<float>(dout, size_t(rows) * inter), want(got.size());
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < inter; ++i) {
      const double g = gu[size_t(r * 2 * inter + i)], u = gu[size_t(r * 2 * inter + inter + i)];
      want[size_t(r * inter + i)] = float(g / (1 + std::exp(-g)) * u);
    }
  CHECK(alp::test::max_abs_diff(got, want) < 2e-5);
  got = from_device<float>(dg, gu.size());
  want.resize(gu.size());
  for (size_t i = 0; i < gu.size(); ++i) {
    const double v = gu[i];
    want[i] = float(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
  }
  CHECK(alp::test::max_abs_diff(got, want) < 2e-5);
  // gelu_tanh(1) from torch.nn.functional.gelu(torch.tensor(1.), approximate='tanh').
  CHECK_NEAR(0.5 * (1 + std::tanh(std::sqrt(2 / M_PI) * 1.044715)), 0.8411919906082768, 1e-12);

  launch_add(dgu.as<float>(), dgu.as<float>(), dg.as<float>(), int64_t(gu.size()), s.get());
  s.synchronize();
  got = from_device<float>(dg, gu.size());
  int bad = 0;
  for (size_t i = 0; i < gu.size(); ++i) bad += got[i] != 2 * gu[i];
  CHECK_EQ(bad, 0);
}

TEST(cuda_embedding_and_argmax_match_reference) {
  REQUIRE_CUDA_DEVICE();
  const int vocab = 50, dim = 96;
  const std::vector<float> table = rand_vec(size_t(vocab) * dim, 6);
  const std::vector<int32_t> ids = {3, 0, 49, 17, -1, 50};
  Stream s;
  DeviceBuffer dt = to_device(table), di = to_device(ids), dout(ids.size() * dim * 4);
  launch_embedding_gather(di.as<int32_t>(), int64_t(ids.size()), {dt.get(), alp::DType::F32}, vocab, dim,
                          dout.as<float>(), s.get());
  s.synchronize();
  const std::vector<float> got = from_device<float>(dout, ids.size() * dim);
  int bad = 0;
  for (size_t r = 0; r < ids.size(); ++r)
    for (int i = 0; i < dim; ++i) {
      const bool ok = ids[r] >= 0 && ids[r] < vocab;
      bad += got[r * dim + size_t(i)] != (ok ? table[size_t(ids[r]) * dim + size_t(i)] : 0.0f);
    }
  CHECK_EQ(bad, 0);

  // argmax over a vocab-sized row, with a tie (lowest index wins) and a NaN row.
  const int64_t cols = 155698;
  std::vector<float> logits = rand_vec(size_t(3 * cols), 7, 10.0f);
  logits[size_t(123456)] = 50.f;
  logits[size_t(150000)] = 50.f;
  logits[size_t(cols + 99)] = 60.f;
  logits[size_t(2 * cols + 7)] = NAN;
  DeviceBuffer dl = to_device(logits), da(3 * 4);
  launch_argmax_rows(dl.as<float>(), 3, cols, da.as<int32_t>(), s.get());
  s.synchronize();
  const std::vector<int32_t> am = from_device<int32_t>(da, 3);
  CHECK_EQ(am[0], 123456);
  CHECK_EQ(am[1], 99);
  CHECK_EQ(am[2], 7);
}
#endif
