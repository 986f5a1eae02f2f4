// Attention (prefill causal/full, decode split-K) and GEMM (fallback; cuBLASLt where compiled) against
// double-precision references written from the PyTorch definitions (device only).
#if ALPAMAYO_HAVE_CUDA
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <vector>

#include "backends/cuda/attention.hpp"
#include "backends/cuda/gemm.hpp"
#include "backends/cuda/nvidia_libs.hpp"
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
template <class T> DeviceBuffer to_device(const std::vector<T>& v) {
  DeviceBuffer d(v.size() * sizeof(T));
  d.upload(v.data(), v.size() * sizeof(T));
  return d;
}
std::vector<float> from_device(const DeviceBuffer& d, size_t n) {
  std::vector<float> v(n);
  d.download(v.data(), n * 4);
  return v;
}

// softmax(q k^T * scale + mask) v for one batch, GQA by head // group.
std::vector<float> attention_ref(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                                 const AttentionShape& sh, int64_t n_q, int64_t q_offset, int64_t kv_len, bool causal,
                                 float scale) {
  const int D = sh.head_dim, G = sh.n_heads / sh.n_kv_heads;
  std::vector<float> out(size_t(n_q) * sh.n_heads * D, 0.f);
  for (int64_t i = 0; i < n_q; ++i)
    for (int h = 0; h < sh.n_heads; ++h) {
      const int kvh = h / G;
      const int64_t lim = causal ? std::min(kv_len, q_offset + i + 1) : kv_len;
      if (lim <= 0) continue;
      std::vector<double> sc(static_cast<size_t>(lim));
      double mx = -1e300;
      for (int64_t j = 0; j < lim; ++j) {
        double d = 0;
        for (int e = 0; e < D; ++e)
          d += double(q[size_t((i * sh.n_heads + h) * D + e)]) * k[size_t((kvh * sh.kv_capacity + j) * D + e)];
        sc[size_t(j)] = d * scale;
        mx = std::max(mx, sc[size_t(j)]);
      }
      double sum = 0;
      for (double& x : sc) sum += (x = std::exp(x - mx));
      for (int e = 0; e < D; ++e) {
        double a = 0;
        for (int64_t j = 0; j < lim; ++j) a += sc[size_t(j)] * v[size_t((kvh * sh.kv_capacity + j) * D + e)];
        out[size_t((i * sh.n_heads + h) * D + e)] = float(a / sum);
      }
    }
  return out;
}

}  // namespace

TEST(cuda_attention_prefill_matches_reference) {
  REQUIRE_CUDA_DEVICE();
  struct Case {
    int heads, kv_heads, hd;
    int64_t n_q, q_offset, kv_len, cap;
    bool causal;
  };
  const Case cases[] = {
      {8, 2, 128, 70, 0, 70, 80, true},     // backbone-like GQA 4:1, causal prefill from 0
      {8, 2, 128, 19, 45, 64, 80, true},    // chunked prefill with a query offset
      {4, 2, 128, 64, 100, 164, 170, false},// expert: 64 action tokens, full attention over prefix + actions
      {4, 4, 72, 33, 0, 33, 40, false},     // vision: head_dim 72 (not a multiple of 32), no GQA
  };
  Stream s;
  for (const Case& c : cases) {
    AttentionShape sh;
    sh.n_heads = c.heads;
    sh.n_kv_heads = c.kv_heads;
    sh.head_dim = c.hd;
    sh.kv_capacity = c.cap;
    const std::vector<float> q = rand_vec(size_t(c.n_q) * c.heads * c.hd, 10, 2.0f);
    const std::vector<float> k = rand_vec(size_t(c.kv_heads) * c.cap * c.hd, 11, 2.0f);
    const std::vector<float> v = rand_vec(size_t(c.kv_heads) * c.cap * c.hd, 12);
    DeviceBuffer dq = to_device(q), dk = to_device(k), dv = to_device(v), dout(q.size() * 4);
    const float scale = 1.0f / std::sqrt(float(c.hd));
    launch_attention_prefill(dq.as<float>(), dk.as<float>(), dv.as<float>(), dout.as<float>(), sh, c.n_q, c.q_offset,
                             c.kv_len, c.causal, scale, s.get());
    s.synchronize();
    const std::vector<float> got = from_device(dout, q.size());
    const std::vector<float> want = attention_ref(q, k, v, sh, c.n_q, c.q_offset, c.kv_len, c.causal, scale);
    CHECK(alp::test::max_abs_diff(got, want) < 2e-5);
  }
}

TEST(cuda_attention_decode_split_k_matches_reference) {
  REQUIRE_CUDA_DEVICE();
  AttentionShape sh;
  sh.n_heads = 8;
  sh.n_kv_heads = 2;
  sh.head_dim = 128;
  sh.kv_capacity = 1200;
  const std::vector<float> k = rand_vec(size_t(2) * 1200 * 128, 21, 2.0f), v = rand_vec(k.size(), 22);
  const std::vector<float> q = rand_vec(size_t(8) * 128, 23, 2.0f);
  DeviceBuffer dq = to_device(q), dk = to_device(k), dv = to_device(v), dout(q.size() * 4);
  const size_t ws = attention_decode_workspace_bytes(sh, 1200);
  DeviceBuffer dws(ws);
  Stream s;
  for (int64_t kv_len : {int64_t(1), int64_t(255), int64_t(257), int64_t(1123)}) {  // 1 split .. 5 splits, ragged
    launch_attention_decode(dq.as<float>(), dk.as<float>(), dv.as<float>(), dout.as<float>(), sh, kv_len, 0.0884f,
                            dws.get(), ws, s.get());
    s.synchronize();
    const std::vector<float> want = attention_ref(q, k, v, sh, 1, kv_len - 1, kv_len, false, 0.0884f);
    CHECK(alp::test::max_abs_diff(from_device(dout, q.size()), want) < 2e-5);
  }
  CHECK_THROWS_CODE(launch_attention_decode(dq.as<float>(), dk.as<float>(), dv.as<float>(), dout.as<float>(), sh, 1123,
                                            0.1f, dws.get(), 16, s.get()),
                    alp::ErrorCode::InvalidInput, "workspace 16 bytes");
}

TEST(cuda_gemm_fallback_matches_reference_all_weight_types) {
  REQUIRE_CUDA_DEVICE();
  const int64_t M = 70, N = 130, K = 200;  // ragged against the 64x64x16 tiles
  const std::vector<float> x = rand_vec(size_t(M * K), 31), wf = rand_vec(size_t(N * K), 32, 0.5f);
  const std::vector<float> bias = rand_vec(size_t(N), 33), res = rand_vec(size_t(M * N), 34);
  // Each weight type with the reference computed from the exactly-widened stored values.
  std::vector<__nv_bfloat16> wb(wf.size());
  std::vector<__half> wh(wf.size());
  std::vector<__nv_fp8_storage_t> w8(wf.size());
  std::vector<float> eb(wf.size()), eh(wf.size()), e8(wf.size());
  const float s8 = 0.5f / 448.0f;  // per-tensor scale mapping |w| <= 0.5 onto the e4m3 range
  for (size_t i = 0; i < wf.size(); ++i) {
    wb[i] = __float2bfloat16_rn(wf[i]);
    eb[i] = __bfloat162float(wb[i]);
    wh[i] = __float2half_rn(wf[i]);
    eh[i] = __half2float(wh[i]);
    w8[i] = __nv_cvt_float_to_fp8(wf[i] / s8, __NV_SATFINITE, __NV_E4M3);
    __nv_fp8_e4m3 t;
    t.__x = w8[i];
    e8[i] = float(t) * s8;
  }
  DeviceBuffer dx = to_device(x), db = to_device(bias), dr = to_device(res), dy(size_t(M * N) * 4);
  DeviceBuffer dwf = to_device(wf), dwb = to_device(wb), dwh = to_device(wh), dw8 = to_device(w8);
  struct W {
    WeightRef ref;
    const std::vector<float>* eff;
  };
  const W ws[] = {{{dwf.get(), alp::DType::F32}, &wf},
                  {{dwb.get(), alp::DType::BF16}, &eb},
                  {{dwh.get(), alp::DType::F16}, &eh},
                  {{dw8.get(), alp::DType::F8E4M3, s8}, &e8}};
  Stream s;
  for (const W& w : ws) {
    GemmArgs a;
    a.x = dx.as<float>();
    a.w = w.ref;
    a.bias = db.as<float>();
    a.residual = dr.as<float>();
    a.y = dy.as<float>();
    a.m = M;
    a.n = N;
    a.k = K;
    launch_gemm_fallback(a, s.get());
    s.synchronize();
    std::vector<float> want(size_t(M * N));
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = bias[size_t(j)] + res[size_t(i * N + j)];
        for (int64_t kk = 0; kk < K; ++kk) acc += double(x[size_t(i * K + kk)]) * (*w.eff)[size_t(j * K + kk)];
        want[size_t(i * N + j)] = float(acc);
      }
    CHECK(alp::test::max_abs_diff(from_device(dy, want.size()), want) < 2e-4);
  }
#if ALPAMAYO_HAVE_CUBLASLT
  // Tensor-core path for every narrow weight type, with bias (epilogue) and residual (C, beta = 1).
  // X is narrowed like the weight (bf16/f16 rounding; fp8 per-tensor quantisation whose scale stays
  // on the device), so the reference narrows X the same way.
  if (!cublaslt_api()) {
    alp::test::record_failure(__FILE__, __LINE__, "cuBLASLt compiled in but unavailable: " + cublaslt_status().error);
    return;
  }
  CublasLtGemm lt;
  GemmArgs unreserved;
  unreserved.x = dx.as<float>();
  unreserved.w = {dwb.get(), alp::DType::BF16};
  unreserved.y = dy.as<float>();
  unreserved.m = M, unreserved.n = N, unreserved.k = K;
  // run() never allocates by itself (a captured graph would keep a freed scratch address).
  CHECK_THROWS_CODE(lt.run(unreserved, s.get()), alp::ErrorCode::Internal, "reserve()");  // never allocates by itself (graph safety)
  CHECK(lt.reserve(M, K));
  CHECK(!lt.reserve(M / 2, K));  // fits: no reallocation
  const size_t scratch = lt.scratch_bytes();
  // fp8 weights need a device scale.
  DeviceBuffer ds8 = to_device(std::vector<float>{s8});
  auto narrow_x = [](alp::DType t, float v) -> double {
    return t == alp::DType::BF16 ? __bfloat162float(__float2bfloat16_rn(v)) : __half2float(__float2half_rn(v));
  };
  const W lts[] = {{{dwb.get(), alp::DType::BF16}, &eb},
                   {{dwh.get(), alp::DType::F16}, &eh},
                   {{dw8.get(), alp::DType::F8E4M3, s8, ds8.as<float>()}, &e8}};
  const int64_t K16 = 192;  // fp8 kernels want K % 16 == 0; the ragged K=200 may take the fallback
  for (const W& w : lts) {
    const int64_t k = w.ref.dtype == alp::DType::F8E4M3 ? K16 : K;
    GemmArgs a;
    a.x = dx.as<float>();
    a.w = w.ref;
    a.bias = db.as<float>();
    a.residual = dr.as<float>();
    a.y = dy.as<float>();
    a.m = M, a.n = N, a.k = k;
    // Row stride of W is K in memory; for K16 use the first K16 columns of a [N, K16] view: rebuild.
    std::vector<float> xs(size_t(M * k));
    for (int64_t i = 0; i < M; ++i)
      for (int64_t kk = 0; kk < k; ++kk) xs[size_t(i * k + kk)] = x[size_t(i * K + kk)];
    DeviceBuffer dxs = to_device(xs);
    a.x = dxs.as<float>();
    DeviceBuffer dw8s;
    std::vector<float> weff(size_t(N * k));
    for (int64_t j = 0; j < N; ++j)
      for (int64_t kk = 0; kk < k; ++kk) weff[size_t(j * k + kk)] = (*w.eff)[size_t(j * K + kk)];
    if (w.ref.dtype == alp::DType::F8E4M3) {
      std::vector<__nv_fp8_storage_t> q(size_t(N * k));
      for (int64_t j = 0; j < N; ++j)
        for (int64_t kk = 0; kk < k; ++kk) q[size_t(j * k + kk)] = w8[size_t(j * K + kk)];
      dw8s = to_device(q);
      a.w.data = dw8s.get();
    }
    const bool ran = lt.run(a, s.get());
    if (w.ref.dtype != alp::DType::F8E4M3) CHECK(ran);  // bf16/f16 always have an algorithm
    if (!ran) {
      std::cout << "    note: cuBLASLt has no fp8 algorithm for this shape/device; fallback used\n";
      continue;
    }
    s.synchronize();
    float xam = 0.f;
    for (float v : xs) xam = std::max(xam, std::fabs(v));
    std::vector<float> want(size_t(M * N));
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = bias[size_t(j)] + res[size_t(i * N + j)];
        for (int64_t kk = 0; kk < k; ++kk) {
          double xv;
          if (w.ref.dtype == alp::DType::F8E4M3) {
            const float sxx = xam / 448.0f;
            __nv_fp8_e4m3 qq;
            qq.__x = __nv_cvt_float_to_fp8(xs[size_t(i * k + kk)] / sxx, __NV_SATFINITE, __NV_E4M3);
            xv = double(float(qq)) * sxx;
          } else {
            xv = narrow_x(w.ref.dtype, xs[size_t(i * k + kk)]);
          }
          acc += xv * weff[size_t(j * k + kk)];
        }
        want[size_t(i * N + j)] = float(acc);
      }
    CHECK(alp::test::max_abs_diff(from_device(dy, want.size()), want) < 2e-3);
  }
  CHECK_EQ(lt.scratch_bytes(), scratch);  // run() never reallocated the scratch
  CHECK(lt.cached_plans() >= 2);
#endif
}
#endif
