#pragma once
// Shared by the cuda_*_test.cpp files: whether a device is present (tests skip with the driver's
// reason when not), and small host-side helpers.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/cuda/device.hpp"

namespace alp::test {

// Empty when a CUDA device is usable, else the reason to print with SKIP.
inline std::string cuda_skip_reason() {
  std::string why;
  if (alp::cuda::device_count(&why) > 0) return {};
  return "no CUDA device (" + (why.empty() ? std::string("cudaGetDeviceCount reported 0 devices") : why) + ")";
}

#define REQUIRE_CUDA_DEVICE()                                                              \
  do {                                                                                     \
    const std::string alp_why_ = ::alp::test::cuda_skip_reason();                          \
    if (!alp_why_.empty()) SKIP(alp_why_);                                                 \
  } while (0)

// Deterministic test data (a 64-bit LCG) so Python golden generators can reproduce it exactly.
struct Lcg {
  uint64_t s;
  explicit Lcg(uint64_t seed) : s(seed) {}
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33);
  }
  // Uniform in [-1, 1) with 24 bits, exactly representable in fp32.
  float uniform() { return static_cast<float>(next() >> 7) / 8388608.0f - 1.0f; }
};

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = a.size() == b.size() ? 0.0 : 1e30;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

}  // namespace alp::test
