// CPU executor ops against values computed with PyTorch (numbers in the comments' scripts are
// torch 2.x CPU fp32) and invariants of the GEMM / fp8 emulation.
#include <cmath>
#include <random>
#include <vector>

#include "backends/cpu/cpu_kernels.hpp"
#include "backends/cpu/cpu_ops.hpp"
#include "core/dtype.hpp"
#include "tests/check.hpp"
#include "core/error.hpp"
#include "tests/check.hpp"

using namespace alp;
using model::Value;

namespace {
cpu::CpuOps make_ops(int threads = 2, Precision p = Precision::FP32) {
  return cpu::CpuOps([](std::string_view n) -> Tensor { fail(ErrorCode::InvalidCheckpoint, "missing tensor " + std::string(n)); },
                     cpu::CpuOptions{p, threads});
}
void near_all(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  CHECK_EQ(got.size(), want.size());
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) CHECK_NEAR(got[i], want[i], tol);
}
}  // namespace

TEST(cpu_attention_gqa_with_causal_past) {
  // Two query heads share one KV head; the cache holds one earlier key (past = 1), so query 0 sees keys
  // 0..1 and query 1 sees 0..2. torch: softmax((k[:vis] @ q) * 0.7) @ v[:vis] per (query, head).
  auto ops = make_ops();
  Value q = ops.input("q", {2, 2, 2}, std::vector<float>{1, 0, 0, 1, 0.5f, -1, 2, 0.5f});
  Value k = ops.input("k", {3, 1, 2}, std::vector<float>{1, 2, 0, -1, 3, 1});
  Value v = ops.input("v", {3, 1, 2}, std::vector<float>{1, 0, 0, 2, -1, 1});
  auto out = cpu::CpuOps::values(ops.attention(q, k, v, model::AttentionMask::causal(1), 0.7f));
  near_all(out, {0.6681877, 0.6636244, 0.8909032, 0.2181937, -0.2826323, 1.4398416, -0.8353962, 0.9279106}, 1e-6);
  // Without the mask, query 0 also sees key 2 and its output changes.
  auto full = cpu::CpuOps::values(ops.attention(q, k, v, model::AttentionMask::none(), 0.7f));
  CHECK(std::fabs(full[0] - out[0]) > 1e-3);
  CHECK_NEAR(full[4], out[4], 1e-7);  // query 1 already saw every key
}

TEST(cpu_attention_blocks_keeps_each_block_to_itself) {
  // Three blocks of two rows (the vision tower's images): row i attends only to the keys of block
  // i / 2. Reference: softmax(q·k * scale) · v per (row, head) over the block's keys, in double.
  auto ops = make_ops();
  const int64_t n = 6, h = 2, d = 3, len = 2;
  std::vector<float> qd(n * h * d), kd(qd.size()), vd(qd.size());
  for (size_t i = 0; i < qd.size(); ++i) {
    qd[i] = std::sin(0.7f * static_cast<float>(i));
    kd[i] = std::cos(0.3f * static_cast<float>(i) + 1.0f);
    vd[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
  }
  Value q = ops.input("q", {n, h, d}, qd), k = ops.input("k", {n, h, d}, kd), v = ops.input("v", {n, h, d}, vd);
  std::vector<double> want(qd.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t hh = 0; hh < h; ++hh) {
      const int64_t b0 = i / len * len;
      double s[len], mx = -1e300, sum = 0;
      for (int64_t j = 0; j < len; ++j) {
        s[j] = 0;
        for (int64_t e = 0; e < d; ++e) s[j] += double{qd[(i * h + hh) * d + e]} * kd[((b0 + j) * h + hh) * d + e] * 0.5;
        mx = std::max(mx, s[j]);
      }
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int64_t e = 0; e < d; ++e)
        for (int64_t j = 0; j < len; ++j) want[(i * h + hh) * d + e] += s[j] / sum * vd[((b0 + j) * h + hh) * d + e];
    }
  const auto got = cpu::CpuOps::values(ops.attention_blocks(q, k, v, 3, 0.5f));
  near_all(got, want, 1e-6);
  // One block is plain full attention, and it differs: the blocks really are separated.
  const auto one = cpu::CpuOps::values(ops.attention_blocks(q, k, v, 1, 0.5f));
  near_all(one, [&] {
    auto full = cpu::CpuOps::values(ops.attention(q, k, v, model::AttentionMask::none(), 0.5f));
    return std::vector<double>(full.begin(), full.end());
  }(), 1e-7);
  CHECK(std::fabs(one[0] - got[0]) > 1e-3);
  CHECK_THROWS_CODE(ops.attention_blocks(q, k, v, 4, 0.5f), ErrorCode::Internal, "N a multiple of 4 blocks");
  CHECK_THROWS_CODE(ops.attention_blocks(q, ops.input("k2", {n, 1, d}, std::vector<float>(n * d)), v, 3, 0.5f), ErrorCode::Internal,
                    "attention_blocks");
}

TEST(cpu_rope_rms_layer_norm_gelu) {
  auto ops = make_ops();
  Value x = ops.input("x", {1, 1, 4}, std::vector<float>{1, 2, 3, 4});
  Value c = ops.input("c", {1, 4}, std::vector<float>{0.5f, 0.25f, 0.5f, 0.25f});
  Value s = ops.input("s", {1, 4}, std::vector<float>{0.1f, 0.2f, 0.1f, 0.2f});
  near_all(cpu::CpuOps::values(ops.rope(x, c, s)), {0.2, -0.3, 1.6, 1.4}, 1e-6);
  // rms([1,2,3,4]) = sqrt(7.5)
  Value w = ops.input("w", {4}, std::vector<float>{1, 1, 2, 2});
  near_all(cpu::CpuOps::values(ops.rms_norm(ops.reshape(x, {1, 4}), w, 0.f)),
           {1 / std::sqrt(7.5), 2 / std::sqrt(7.5), 6 / std::sqrt(7.5), 8 / std::sqrt(7.5)}, 1e-6);
  Value y = ops.input("y", {1, 3}, std::vector<float>{1, 2, 4});
  near_all(cpu::CpuOps::values(ops.layer_norm(y, ops.input("g", {3}, std::vector<float>{1, 2, 0.5f}),
                                               ops.input("b", {3}, std::vector<float>{0, 1, -1}), 1e-5f)),
           {-1.0690414, 0.4654794, -0.3318491}, 1e-6);
  Value g = ops.input("g", {3}, std::vector<float>{-1, 0.5f, 2});
  near_all(cpu::CpuOps::values(ops.gelu_tanh(g)), {-0.15880799, 0.345714, 1.9545977}, 1e-6);
  near_all(cpu::CpuOps::values(ops.gelu_erf(g)), {-0.15865526, 0.34573123, 1.9544997}, 1e-6);
}

TEST(cpu_gemm_matches_double_reference_and_is_thread_invariant) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  const int64_t n = 7, m = 45, k = 37;  // odd sizes exercise row/column/lane tails
  std::vector<float> x(n * k), w(m * k), b(m), y1(n * m), y3(n * m);
  for (float& v : x) v = u(rng);
  for (float& v : w) v = u(rng);
  for (float& v : b) v = u(rng);
  cpu::ThreadPool one(1), three(3);
  cpu::gemm_nt(one, x.data(), w.data(), b.data(), y1.data(), n, m, k);
  cpu::gemm_nt(three, x.data(), w.data(), b.data(), y3.data(), n, m, k);
  CHECK(y1 == y3);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double r = b[j];
      for (int64_t t = 0; t < k; ++t) r += double(x[i * k + t]) * w[j * k + t];
      worst = std::max(worst, std::fabs(r - y1[i * m + j]));
    }
  CHECK(worst < 1e-5);
  // A row's result does not depend on how many rows share the call (decode == prefill relies on it).
  std::vector<float> row(m);
  cpu::gemm_nt(three, x.data() + 5 * k, w.data(), b.data(), row.data(), 1, m, k);
  CHECK(std::equal(row.begin(), row.end(), y1.begin() + 5 * m));
}

TEST(cpu_fp8_emulation_error_bounds) {
  std::vector<float> x(1000), q(1000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.1 * i) * 3.0);
  const float scale = cpu::fp8_round_trip(x.data(), q.data(), 1000);
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  CHECK_NEAR(scale, amax / 448.f, 1e-9);
  for (size_t i = 0; i < x.size(); ++i) {
    const double a = std::fabs(x[i]) / scale;
    // e4m3: 3 mantissa bits -> half-ulp relative error 2^-4 for normals (>= 2^-6); absolute 2^-10
    // (half the subnormal step) below.
    const double bound = a >= std::ldexp(1.0, -6) ? std::ldexp(a, -4) : std::ldexp(1.0, -10);
    CHECK(std::fabs(q[i] / scale - x[i] / scale) <= bound * 1.0001);
  }
  // amax itself maps onto 448 exactly.
  const size_t imax = std::max_element(x.begin(), x.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); }) - x.begin();
  CHECK_NEAR(q[imax], x[imax], 1e-6);
  // linear() in fp8 mode: per-tensor weight and activation quantisation, within a few percent here.
  auto ops8 = make_ops(2, Precision::FP8);
  auto ops32 = make_ops();
  std::vector<float> xv(64), wv(32 * 64);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<float>(std::cos(0.3 * i));
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = static_cast<float>(std::sin(0.7 * i) * 0.1);
  auto y8 = cpu::CpuOps::values(ops8.linear(ops8.input("x", {1, 64}, xv), ops8.input("w", {32, 64}, wv), nullptr));
  auto y32 = cpu::CpuOps::values(ops32.linear(ops32.input("x", {1, 64}, xv), ops32.input("w", {32, 64}, wv), nullptr));
  // Per output: |Δy| <= Σ|x||w|·((1+2^-4)^2 - 1) plus the subnormal floor of both operands.
  double worst_ratio = 0, any = 0;
  for (size_t j = 0; j < y8.size(); ++j) {
    double mass = 0;
    for (size_t k = 0; k < 64; ++k) mass += std::fabs(double(xv[k]) * wv[j * 64 + k]);
    // Subnormal floor: |Δx| <= 2^-10·scale_x (|w| <= 0.1), |Δw| <= 2^-10·scale_w (|x| <= 1).
    const double floor = 64 * std::ldexp(1.0, -10) * (0.1 * (1.0 / 448) + 1.0 * (0.1 / 448)) * 1.1;
    const double bound = mass * (std::pow(1 + 1.0 / 16, 2) - 1) + floor;
    worst_ratio = std::max(worst_ratio, std::fabs(y8[j] - y32[j]) / bound);
    any = std::max(any, double(std::fabs(y8[j] - y32[j])));
  }
  CHECK(any > 0);
  CHECK(worst_ratio <= 1.0);
}

TEST(cpu_layout_ops_and_kv_cache) {
  auto ops = make_ops();
  Value a = ops.input("a", {2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(cpu::CpuOps::values(ops.transpose(a, {1, 0})) == (std::vector<float>{0, 3, 1, 4, 2, 5}));
  CHECK(cpu::CpuOps::values(ops.slice(a, 1, 1, 3)) == (std::vector<float>{1, 2, 4, 5}));
  CHECK(cpu::CpuOps::values(ops.concat({a, ops.slice(a, 1, 0, 1)}, 1)) == (std::vector<float>{0, 1, 2, 0, 3, 4, 5, 3}));
  Value idx = ops.input_index("i", {1}, std::vector<int64_t>{1});
  Value src = ops.input("s", {1, 3}, std::vector<float>{10, 20, 30});
  CHECK(cpu::CpuOps::values(ops.scatter_rows(a, idx, src)) == (std::vector<float>{0, 1, 2, 10, 20, 30}));
  CHECK(cpu::CpuOps::values(ops.index_add_rows(a, idx, src)) == (std::vector<float>{0, 1, 2, 13, 24, 35}));
  ops.kv_reserve(2, 4, 1, 3);
  ops.kv_write(1, 2, ops.reshape(src, {1, 1, 3}), ops.reshape(ops.scale(src, 2), {1, 1, 3}));
  auto [k, v] = ops.kv_read(1, 3);
  CHECK(k->shape == (Shape{3, 1, 3}));
  CHECK(cpu::CpuOps::values(v) == (std::vector<float>{0, 0, 0, 0, 0, 0, 20, 40, 60}));
  CHECK_THROWS_CODE(ops.kv_write(1, 4, ops.reshape(src, {1, 1, 3}), ops.reshape(src, {1, 1, 3})), ErrorCode::InvalidInput, "capacity 4");
  CHECK_THROWS_CODE(parse_precision("int4"), ErrorCode::InvalidInput, "int4");
}
