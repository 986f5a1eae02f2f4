#pragma once
// The Qwen3-VL text backbone over Ops: token embedding (image pads replaced by the vision output),
// decoder layers writing the executor's KV cache, DeepStack features added after the first layers at
// image positions, final norm and lm_head on the last position.
#include <span>

#include "model/config.hpp"
#include "model/ops.hpp"
#include "model/rope_tables.hpp"
#include "model/vision.hpp"

namespace alp::model {

// Runs `ids` at cache positions [cache_pos, cache_pos + n) with rope positions `pos` (causal over the
// cache prefix and themselves). `vision` (may be null) supplies one row per image_token_id in `ids`.
// Returns the logits of the last position, [vocab].
Value backbone_forward(Ops& ops, const ModelConfig& cfg, std::span<const int64_t> ids, int64_t cache_pos,
                       const MropePositions& pos, const VisionOutput* vision);

// Whole prompt at cache positions [0, n); positions from rope_index(). Sizes the cache for `capacity`.
Value prefill(Ops& ops, const ModelConfig& cfg, std::span<const int64_t> ids, const MropePositions& pos,
              const VisionOutput* vision);

// One token at `cache_pos` with rope position rope_pos (= cache_pos + rope_delta) on all three axes.
Value decode(Ops& ops, const ModelConfig& cfg, int64_t id, int64_t cache_pos, int64_t rope_pos);

// One token for each of several reasoning lanes (Ops::kv_share) in one pass: every linear sees all the
// rows, attention runs per lane over its own cache. Row i equals decode() of lanes[i] alone.
struct LaneToken {
  int64_t lane = 0;
  int64_t id = 0;
  int64_t cache_pos = 0;
  int64_t rope_pos = 0;
};
// Returns logits [lanes.size(), vocab].
Value decode_lanes(Ops& ops, const ModelConfig& cfg, std::span<const LaneToken> lanes);

// Preallocates the backbone cache (layers x capacity x kv_heads x head_dim) on `ops`.
void reserve_kv_cache(Ops& ops, const ModelConfig& cfg, int64_t capacity);

}  // namespace alp::model
