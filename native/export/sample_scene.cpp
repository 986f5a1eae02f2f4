#include "export/sample_scene.hpp"

#include <cmath>
#include <random>

namespace alp::exporter {



SampleScene sample_scene(const model::ModelConfig& cfg, model::ImageGrid grid, int64_t text_tokens, uint64_t seed) {
  SampleScene s;
  s.grid = grid;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  // Byte-level ids 32..255 exist in every vocabulary this model has and are never special.
  std::uniform_int_distribution<int64_t> text(32, 255);
  s.pixels.resize(static_cast<size_t>(grid.patches() * cfg.vision.patch_dim()));
  for (float& p : s.pixels) p = u(rng);
  const int64_t rows = grid.patches() / cfg.vision.merge_unit();
  const int64_t before = text_tokens / 2;
  for (int64_t i = 0; i < before; ++i) s.ids.push_back(text(rng));
  s.ids.push_back(cfg.vision_start_token_id);
  for (int64_t i = 0; i < rows; ++i) s.ids.push_back(cfg.image_token_id);
  s.ids.push_back(cfg.vision_end_token_id);
  for (int64_t i = before; i < text_tokens; ++i) s.ids.push_back(text(rng));
  const model::ImageGrid grids[1] = {grid};
  s.rope = model::rope_index(cfg, s.ids, grids);
  s.noise.resize(static_cast<size_t>(cfg.action_space.n_waypoints * cfg.action_dims));
  for (float& x : s.noise) x = nd(rng);
  return s;
}

}  // namespace alp::exporter
