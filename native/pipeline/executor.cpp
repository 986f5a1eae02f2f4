#include "pipeline/executor.hpp"

namespace alp::pipeline {

void Executor::denoise(float* x, int n_samples, int steps, int64_t prefix_len, int64_t rope_base,
                       const std::function<void()>& before_step) {
  const size_t n = static_cast<size_t>(n_samples) * 64 * 2;
  std::vector<float> v(n);
  const float dt = 1.0f / static_cast<float>(steps);
  for (int i = 0; i < steps; ++i) {
    if (before_step) before_step();
    const float t = static_cast<float>(i) * dt;
    expert_velocity(x, n_samples, t, prefix_len, rope_base, v.data());
    for (size_t k = 0; k < n; ++k) x[k] += dt * v[k];
  }
}

}  // namespace alp::pipeline
