#pragma once
// Philox4x32-10 (Salmon et al., SC'11; constants as in Random123) and the mapping from a flat noise
// index to a standard normal. Host and device share this code, so the CPU twin and the kernel draw
// identical numbers for the same (seed, offset, index).
//
// Mapping (keep in sync with the CPU sampler; change only with a note in the report):
//   element i of a flat fp32 noise tensor, seed s (u64), stream offset o (u64; distinct tensors drawn
//   from one seed use distinct offsets):
//     block b = i / 4, lane = i % 4
//     counter = {lo32(b), hi32(b), lo32(o), hi32(o)}, key = {lo32(s), hi32(s)}
//     r[0..3] = philox4x32_10(counter, key)
//     u_k     = (r_k + 0.5) / 2^32                      (double, strictly inside (0, 1))
//     pair (r0, r1) -> z0 = sqrt(-2 ln u0) cos(2 pi u1), z1 = sqrt(-2 ln u0) sin(2 pi u1)
//     pair (r2, r3) -> z2, z3 likewise; element i takes z_lane, rounded to fp32.
// Box-Muller runs in double so the fp32 result does not depend on the last-ulp behaviour of the
// host's or the device's libm (both are within 2 ulp in double; rounding to fp32 absorbs that).
#include <cstdint>
#include <cmath>

#if defined(__CUDACC__)
#define ALP_HD __host__ __device__ __forceinline__
#else
#define ALP_HD inline
#endif

namespace alp::cuda::philox {

struct U32x4 {
  uint32_t v[4];
};

ALP_HD uint32_t mulhi32(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}

ALP_HD U32x4 philox4x32_10(U32x4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint32_t hi0 = mulhi32(M0, ctr.v[0]), lo0 = M0 * ctr.v[0];
    const uint32_t hi1 = mulhi32(M1, ctr.v[2]), lo1 = M1 * ctr.v[2];
    ctr = U32x4{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += W0;
    k1 += W1;
  }
  return ctr;
}

ALP_HD double to_open_unit(uint32_t r) { return (static_cast<double>(r) + 0.5) * (1.0 / 4294967296.0); }

// The four normals of block b (see the mapping above).
ALP_HD void normal4(uint64_t seed, uint64_t offset, uint64_t block, float out[4]) {
  const U32x4 c{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), static_cast<uint32_t>(offset),
                 static_cast<uint32_t>(offset >> 32)}};
  const U32x4 r = philox4x32_10(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  for (int p = 0; p < 2; ++p) {
    const double rad = sqrt(-2.0 * log(to_open_unit(r.v[2 * p])));
    const double ang = kTwoPi * to_open_unit(r.v[2 * p + 1]);
    out[2 * p] = static_cast<float>(rad * cos(ang));
    out[2 * p + 1] = static_cast<float>(rad * sin(ang));
  }
}

}  // namespace alp::cuda::philox
