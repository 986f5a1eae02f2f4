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

// Host copy of the vision outputs of a call's images, in the layout the llm graph takes them.
struct ImageFeatures {
  int64_t rows = 0;                // merged image tokens
  std::vector<float> embeds;       // [rows, text_hidden]
  std::vector<float> deepstack;    // [n_deepstack, rows, text_hidden]
};

// vision: pixel_values [images, patches, patch_dim] of `images` frames of one size (grid t = 1, h,
// w each; the cameras of a plan) -> image_embeds [images * patches / merge², hidden] and
// deepstack_embeds [n_deepstack, images * patches / merge², hidden], image after image: the rows
// the llm's prefill reads, so one call's outputs can be bound where prefill reads them. Attention
// stays within each image (a leading image axis, Ops::attention_blocks); the per-patch tables
// (vision_pos_idx/_w, vision_rope_cos/_sin) take the same [images, patches, ·] layout.
ImageFeatures vision_graph(model::Ops& ops, const model::ModelConfig& cfg, std::span<const float> pixel_values,
                           const model::ImageGrid& grid, int64_t images = 1);

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
