#pragma once
// Philox4x32-10 (Salmon et al., SC'11; the Random123 / cuRAND constants) and a Box-Muller normal
// generator defined element by element, so a CUDA kernel computing element i on its own thread
// produces the same numbers as this host code.
//
// Exact mapping for a flat float tensor (e.g. the (samples, 64, 2) flow-matching noise, row-major):
//   element i  ->  block b = i / 4, lane = i % 4
//   counter    =  { low32(b), high32(b), low32(stream), high32(stream) }
//   key        =  { low32(seed), high32(seed) }
//   (x0, x1, x2, x3) = philox4x32_10(counter, key)
//   u_j  = (x_j + 0.5) * 2^-32 in double, in (0, 1) and never 0
//   lanes 0, 1 from (u0, u1), lanes 2, 3 from (u2, u3):
//     r = sqrt(-2 ln u_even),  lane even = r cos(2 pi u_odd),  lane odd = r sin(2 pi u_odd)
//   value = (float) of that double.
// The transcendentals run in double and are rounded once to float, so a device implementation
// using double log/sin/cos agrees bit-for-bit except when a double result sits within a few
// double ulps of a float rounding boundary (probability ~1e-8 per element); comparisons across
// devices should therefore allow 1 float ulp.
#include <array>
#include <cstdint>
#include <span>

namespace alp::model {

using PhiloxCounter = std::array<uint32_t, 4>;
using PhiloxKey = std::array<uint32_t, 2>;

PhiloxCounter philox4x32_10(PhiloxCounter counter, PhiloxKey key);

// Element `index` of the normal stream (seed, stream), per the mapping above.
float philox_normal(uint64_t seed, uint64_t stream, uint64_t index);

// out[k] = philox_normal(seed, stream, first_index + k); evaluates each Philox block once.
void fill_philox_normal(uint64_t seed, uint64_t stream, uint64_t first_index, std::span<float> out);

}  // namespace alp::model
