#include "model/bicubic_taps.hpp"

#include <algorithm>
#include <cmath>

namespace alp::model {

// Keys cubic convolution with a = -0.5, the filter PIL and torch's antialiased bicubic use.
double bicubic_kernel(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

BicubicTaps bicubic_taps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  // Downscaling widens the kernel by the scale (antialiasing); upscaling keeps support 2.
  const double support = scale >= 1.0 ? 2.0 * scale : 2.0;
  const double inv = scale >= 1.0 ? 1.0 / scale : 1.0;
  BicubicTaps t;
  t.max_count = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  std::vector<double> w(static_cast<size_t>(out_size) * t.max_count, 0.0);
  double w_max = 0.0;
  for (int i = 0; i < out_size; ++i) {
    const double center = scale * (i + 0.5);
    // Truncating casts (not floor), as in the reference kernels.
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int n = std::min(static_cast<int>(center + support + 0.5), in_size) - lo;
    t.first[i] = lo;
    t.count[i] = n;
    double* wi = &w[static_cast<size_t>(i) * t.max_count];
    double total = 0.0;
    for (int j = 0; j < n; ++j) total += wi[j] = bicubic_kernel((j + lo - center + 0.5) * inv);
    for (int j = 0; j < n; ++j) {
      if (total != 0.0) wi[j] /= total;
      w_max = std::max(w_max, wi[j]);
    }
  }
  // Largest precision whose biggest weight still fits int16 with headroom for the madd pairs.
  int p = 0;
  for (; p < 22; ++p)
    if (static_cast<int>(0.5 + w_max * static_cast<double>(1 << (p + 1))) >= (1 << 15)) break;
  t.precision = p;
  t.k.resize(w.size());
  for (size_t q = 0; q < w.size(); ++q) {
    const double v = w[q] * static_cast<double>(1 << p);
    t.k[q] = static_cast<int16_t>(v < 0.0 ? static_cast<int>(-0.5 + v) : static_cast<int>(0.5 + v));
  }
  return t;
}

}  // namespace alp::model
