#pragma once
// Deterministic synthetic inputs for tracing, calibration and the export round trip: one image of a
// given patch grid, a prompt of text tokens around its <|image_pad|> run, rope positions and
// diffusion noise. Only sizes matter for tracing; calibration and reference runs want varied values.
#include <cstdint>
#include <vector>

#include "model/config.hpp"
#include "model/rope_tables.hpp"

namespace alp::exporter {

struct SampleScene {
  model::ImageGrid grid;
  std::vector<float> pixels;  // [grid.patches(), patch_dim] in [-1, 1]
  std::vector<int64_t> ids;   // text_before, <|vision_start|>, pads, <|vision_end|>, text_after
  model::RopeIndex rope;      // rope_index(ids, grid)
  std::vector<float> noise;   // [n_waypoints * action_dims], ~N(0, 1)
};

// `text_tokens` ordinary ids (byte tokens) split around the image; `seed` varies every value.
SampleScene sample_scene(const model::ModelConfig& cfg, model::ImageGrid grid, int64_t text_tokens, uint64_t seed);

}  // namespace alp::exporter
