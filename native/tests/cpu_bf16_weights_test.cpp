// bf16-stored matrices stay bf16 on the CPU (fp32 and bf16 modes): the GEMM and the embedding gather
// widen them exactly, so results are bit-identical to fp32 copies of the same weights, at half the
// weight memory. Also: NaN weights are named at first read, whatever the storage.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backends/cpu/cpu_kernels.hpp"
#include "backends/cpu/cpu_ops.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"
#include "tests/check.hpp"

using namespace alp;
using model::Value;

namespace {

// Random bf16 weights [m, k] (bits) and the same values as fp32.
void random_bf16(int64_t m, int64_t k, uint32_t seed, std::vector<uint16_t>& bits, std::vector<float>& f32) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.5f);
  bits.resize(static_cast<size_t>(m * k));
  f32.resize(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) {
    bits[i] = f32_to_bf16(nd(rng));
    f32[i] = bf16_to_f32(bits[i]);
  }
}

Tensor bf16_tensor(const Shape& s, const std::vector<uint16_t>& bits) {
  Tensor t(DType::BF16, s);
  std::memcpy(t.mutable_data(), bits.data(), bits.size() * 2);
  return t;
}

}  // namespace

TEST(cpu_gemm_bf16_weights_bit_identical_to_widened) {
  // Odd sizes exercise the 4-row tiles, the row tail and the k tail.
  const int64_t n = 7, m = 37, k = 45;
  std::vector<uint16_t> bits;
  std::vector<float> w;
  random_bf16(m, k, 3, bits, w);
  std::vector<float> x(static_cast<size_t>(n * k)), b(static_cast<size_t>(m));
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  for (float& v : x) v = u(rng);
  for (float& v : b) v = u(rng);
  cpu::ThreadPool pool(2);
  std::vector<float> y32(static_cast<size_t>(n * m)), y16(y32.size());
  cpu::gemm_nt(pool, x.data(), w.data(), b.data(), y32.data(), n, m, k);
  cpu::gemm_nt_bf16(pool, x.data(), bits.data(), b.data(), y16.data(), n, m, k);
  CHECK(std::memcmp(y32.data(), y16.data(), y32.size() * sizeof(float)) == 0);
  // And the result is a real GEMM: element (2, 5) against a double-precision dot product.
  double want = b[5];
  for (int64_t i = 0; i < k; ++i) want += static_cast<double>(x[static_cast<size_t>(2 * k + i)]) * w[static_cast<size_t>(5 * k + i)];
  CHECK_NEAR(y16[static_cast<size_t>(2 * m + 5)], want, 1e-4);
}

TEST(cpu_ops_keep_bf16_matrices_and_match_fp32_copies) {
  const int64_t vocab = 11, d = 24, out = 9;
  std::vector<uint16_t> emb_bits, lin_bits;
  std::vector<float> emb, lin;
  random_bf16(vocab, d, 5, emb_bits, emb);
  random_bf16(out, d, 6, lin_bits, lin);
  auto source = [&](bool as_bf16) {
    return [&, as_bf16](std::string_view name) -> Tensor {
      const bool is_emb = name == "emb";
      const Shape s = is_emb ? Shape{vocab, d} : Shape{out, d};
      if (as_bf16) return bf16_tensor(s, is_emb ? emb_bits : lin_bits);
      return Tensor::from_f32(s, is_emb ? emb : lin);
    };
  };
  for (alp::Precision p : {alp::Precision::FP32, alp::Precision::BF16}) {
    cpu::CpuOps a(source(true), cpu::CpuOptions{p, 2});
    cpu::CpuOps b(source(false), cpu::CpuOptions{p, 2});
    const std::vector<int64_t> ids = {3, 0, 10, 3};
    auto run = [&](cpu::CpuOps& ops) {
      Value h = ops.embedding(ops.weight("emb", {vocab, d}), ops.input_index("ids", {4}, ids));
      return cpu::CpuOps::values(ops.linear(h, ops.weight("lin", {out, d}), nullptr));
    };
    const std::vector<float> ya = run(a), yb = run(b);
    CHECK_EQ(ya.size(), yb.size());
    CHECK(std::memcmp(ya.data(), yb.data(), ya.size() * sizeof(float)) == 0);
    CHECK_EQ(a.weight_bytes(), uint64_t((vocab + out) * d * 2));  // bf16 kept
    CHECK_EQ(b.weight_bytes(), uint64_t((vocab + out) * d * 4));  // fp32 source: fp32 copies
  }
  CHECK(cpu::keeps_bf16(DType::BF16, 2, alp::Precision::FP32));
  CHECK(!cpu::keeps_bf16(DType::BF16, 1, alp::Precision::FP32));  // norms and biases: fp32
  CHECK(!cpu::keeps_bf16(DType::BF16, 2, alp::Precision::FP16));  // rounded to fp16: fp32 copy
  CHECK(!cpu::keeps_bf16(DType::F32, 2, alp::Precision::FP32));
}

TEST(cpu_ops_name_non_finite_weights_at_first_read) {
  std::vector<uint16_t> bits;
  std::vector<float> f;
  random_bf16(4, 8, 7, bits, f);
  bits[13] = 0x7fc0;  // bf16 NaN
  f[13] = NAN;
  cpu::CpuOps a([&](std::string_view) { return bf16_tensor({4, 8}, bits); }, cpu::CpuOptions{alp::Precision::FP32, 1});
  CHECK_THROWS_CODE(a.weight("w.bf16", {4, 8}), ErrorCode::InvalidCheckpoint, "tensor w.bf16: non-finite value nan at element 13");
  cpu::CpuOps b([&](std::string_view) { return Tensor::from_f32({4, 8}, f); }, cpu::CpuOptions{alp::Precision::FP32, 1});
  CHECK_THROWS_CODE(b.weight("w.f32", {4, 8}), ErrorCode::InvalidCheckpoint, "tensor w.f32: non-finite value nan at element 13");
}
