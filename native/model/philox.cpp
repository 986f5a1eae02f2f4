#include "model/philox.hpp"

#include <cmath>
#include <numbers>

namespace alp::model {
namespace {

constexpr uint32_t kMul0 = 0xD2511F53u;
constexpr uint32_t kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

std::array<float, 4> block_normals(uint64_t seed, uint64_t stream, uint64_t block) {
  const PhiloxCounter ctr = {static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                             static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)};
  const PhiloxKey key = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  const PhiloxCounter x = philox4x32_10(ctr, key);
  constexpr double kInv2p32 = 1.0 / 4294967296.0;
  std::array<float, 4> out{};
  for (int pair = 0; pair < 2; ++pair) {
    const double u_r = (static_cast<double>(x[2 * pair]) + 0.5) * kInv2p32;
    const double u_a = (static_cast<double>(x[2 * pair + 1]) + 0.5) * kInv2p32;
    const double r = std::sqrt(-2.0 * std::log(u_r));
    const double angle = 2.0 * std::numbers::pi * u_a;
    out[2 * pair] = static_cast<float>(r * std::cos(angle));
    out[2 * pair + 1] = static_cast<float>(r * std::sin(angle));
  }
  return out;
}

}  // namespace

PhiloxCounter philox4x32_10(PhiloxCounter c, PhiloxKey k) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k[0] += kWeyl0;
      k[1] += kWeyl1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kMul0, c[0], hi0, lo0);
    mulhilo(kMul1, c[2], hi1, lo1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
  }
  return c;
}

float philox_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  return block_normals(seed, stream, index / 4)[index % 4];
}

void fill_philox_normal(uint64_t seed, uint64_t stream, uint64_t first_index, std::span<float> out) {
  size_t k = 0;
  while (k < out.size()) {
    const uint64_t index = first_index + k;
    const std::array<float, 4> b = block_normals(seed, stream, index / 4);
    for (uint64_t lane = index % 4; lane < 4 && k < out.size(); ++lane, ++k) out[k] = b[lane];
  }
}

}  // namespace alp::model
