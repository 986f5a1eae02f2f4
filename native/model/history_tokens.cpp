#include "model/history_tokens.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"

namespace alp::model {

float round_half_even(float v) {
  const float lower = std::floor(v);
  const float frac = v - lower;  // exact: v and floor(v) share the exponent range
  if (frac > 0.5f) return lower + 1.0f;
  if (frac < 0.5f) return lower;
  return std::fmod(lower, 2.0f) == 0.0f ? lower : lower + 1.0f;
}

std::vector<int32_t> history_bins(std::span<const float> xyz, const HistoryTokenizerConfig& cfg) {
  require(xyz.size() % 3 == 0 && !xyz.empty(), ErrorCode::InvalidInput,
          "history_bins: xyz must hold T x 3 values, got " + std::to_string(xyz.size()));
  require(cfg.num_bins >= 2, ErrorCode::InvalidInput,
          "history_bins: num_bins must be >= 2, got " + std::to_string(cfg.num_bins));
  const size_t t_count = xyz.size() / 3;
  const float top = static_cast<float>(cfg.num_bins - 1);
  std::vector<int32_t> bins(xyz.size());
  for (size_t t = 0; t < t_count; ++t) {
    for (int axis = 0; axis < 3; ++axis) {
      const float cur = xyz[3 * t + axis];
      require(std::isfinite(cur), ErrorCode::InvalidInput,
              "history_bins: position " + std::to_string(t) + " axis " + std::to_string(axis) + " is not finite");
      const float prev = t == 0 ? 0.0f : xyz[3 * (t - 1) + axis];
      // Same float32 operation order as the reference: ((d - min) / (max - min)) * (num_bins - 1).
      const float range = cfg.xyz_max[axis] - cfg.xyz_min[axis];
      const float scaled = ((cur - prev) - cfg.xyz_min[axis]) / range * top;
      float r = round_half_even(scaled);
      r = r < 0.0f ? 0.0f : (r > top ? top : r);
      bins[3 * t + axis] = static_cast<int32_t>(r);
    }
  }
  return bins;
}

std::vector<int32_t> history_bins(std::span<const Pose> history_ego, const HistoryTokenizerConfig& cfg) {
  std::vector<float> xyz(history_ego.size() * 3);
  for (size_t i = 0; i < history_ego.size(); ++i)
    for (int a = 0; a < 3; ++a) xyz[3 * i + a] = static_cast<float>(history_ego[i].p[a]);
  return history_bins(xyz, cfg);
}

std::vector<int64_t> history_token_ids(std::span<const int32_t> bins, int64_t start_idx, int64_t offset) {
  std::vector<int64_t> ids(bins.size());
  for (size_t i = 0; i < bins.size(); ++i) ids[i] = start_idx + offset + bins[i];
  return ids;
}

}  // namespace alp::model
