#pragma once
// The three exported networks as functions over Ops: what one engine call computes, with the graph
// input/output names of the engines' I/O (engines/README.md). The exporter traces them against
// OnnxOps; the reference writer and the calibration run the very same functions on the CPU executor,
// so graph and reference cannot drift apart. Each only wraps model::run_vision / backbone_forward /
// expert_velocity with named inputs and outputs.
#include <cstdint>
#include <span>
#include <vector>

#include "model/config.hpp"
#include "model/ops.hpp"
#include "model/rope_tables.hpp"

namespace alp::exporter {

// Host copy of one image's vision outputs, in the layout the llm graph takes them.
struct ImageFeatures {
  int64_t rows = 0;                // merged image tokens
  std::vector<float> embeds;       // [rows, text_hidden]
  std::vector<float> deepstack;    // [n_deepstack, rows, text_hidden]
};

// vision: pixel_values [patches, patch_dim] of ONE image (grid t, h, w) -> image_embeds
// [patches / merge², hidden] and deepstack_embeds [n_deepstack, patches / merge², hidden]. One image
// per call keeps the graph free of per-image attention splits, so the patch count can be dynamic.
ImageFeatures vision_graph(model::Ops& ops, const model::ModelConfig& cfg, std::span<const float> pixel_values,
                           const model::ImageGrid& grid);

// llm: tokens `ids` at cache positions [cache_pos, cache_pos + n) -> logits [vocab] of the last token.
// Image rows (`images`, may be null) replace the <|image_pad|> ids in order; a call whose ids hold
// no image pad (decode) feeds zero image rows.
std::vector<float> llm_graph(model::Ops& ops, const model::ModelConfig& cfg, std::span<const int64_t> ids,
                             int64_t cache_pos, const model::MropePositions& pos, const ImageFeatures* images);

// expert_step: one flow-matching velocity for noisy actions x [n_waypoints, action_dims] at time t,
// attending over the backbone cache prefix [0, offset).
std::vector<float> expert_graph(model::Ops& ops, const model::ModelConfig& cfg, std::span<const float> x, float t,
                                int64_t offset, int64_t rope_delta);

}  // namespace alp::exporter
