#pragma once
// The Qwen3-VL vision encoder over Ops: patch embed (the Conv3d with kernel == stride is a linear map of
// the 1536-value patch vector), interpolated learned position embedding, 2-D rotary, ViT blocks with
// full attention inside each image, DeepStack mergers after the listed blocks, final merger.
#include <span>
#include <vector>

#include "model/config.hpp"
#include "model/ops.hpp"
#include "model/rope_tables.hpp"

namespace alp::model {

struct VisionOutput {
  Value embeds;                  // [n_image_tokens, text_hidden], image after image, merged tokens in order
  std::vector<Value> deepstack;  // one [n_image_tokens, text_hidden] per deepstack_visual_indexes entry
};

// patches: [Σ patches, patch_dim] in the Qwen processor's layout (merge-block order, (C, T, P, P) per row).
VisionOutput run_vision(Ops& ops, const ModelConfig& cfg, const Value& patches, std::span<const ImageGrid> grids);

}  // namespace alp::model
