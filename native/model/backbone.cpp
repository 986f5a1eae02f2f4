#include "model/backbone.hpp"

#include <string>
#include <vector>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "model/decoder_layer.hpp"

namespace alp::model {

void reserve_kv_cache(Ops& ops, const ModelConfig& cfg, int64_t capacity) {
  ops.kv_reserve(cfg.text.num_layers, capacity, cfg.text.num_kv_heads, cfg.text.head_dim);
}

namespace {

// `segments` empty: one sequence at cache_pos, logits of its last row [vocab]. Otherwise one row per
// lane segment (decode_lanes), logits of every row [n, vocab].
Value forward(Ops& ops, const ModelConfig& cfg, std::span<const int64_t> ids, int64_t cache_pos,
              const MropePositions& pos, const VisionOutput* vision, std::span<const KvSegment> segments) {
  const DecoderConfig& d = cfg.text;
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n == 0) fail(ErrorCode::InvalidInput, "backbone_forward: empty token sequence");
  if (static_cast<int64_t>(pos.size()) != n)
    fail(ErrorCode::InvalidInput, "backbone_forward: " + std::to_string(pos.size()) + " positions for " + std::to_string(n) + " tokens");
  for (int64_t id : ids)
    if (id < 0 || id >= cfg.vocab_size)
      fail(ErrorCode::InvalidInput, "backbone_forward: token id " + std::to_string(id) + " outside [0, " + std::to_string(cfg.vocab_size) + ")");
  const std::string lp = "vlm.model.language_model.";

  Value h = ops.embedding(weight(ops, lp + "embed_tokens.weight", {cfg.vocab_size, d.hidden_size}),
                          ops.input_index("input_ids", {n}, ids));
  // Without vision features (decode steps) an <|image_pad|> id is an ordinary token, as in HF
  // generate(), where only calls that carry pixel_values scatter image embeddings.
  std::vector<int64_t> image_rows;
  for (int64_t i = 0; vision && i < n; ++i)
    if (ids[i] == cfg.image_token_id) image_rows.push_back(i);
  Value image_idx;
  if (!image_rows.empty()) {
    const int64_t have = vision && vision->embeds ? vision->embeds->shape.at(0) : 0;
    if (have != static_cast<int64_t>(image_rows.size()))
      fail(ErrorCode::InvalidInput, "backbone_forward: " + std::to_string(image_rows.size()) + " <|image_pad|> tokens but " +
                                        std::to_string(have) + " image embeddings");
    image_idx = ops.input_index("image_positions", {static_cast<int64_t>(image_rows.size())}, image_rows);
    h = ops.scatter_rows(h, image_idx, vision->embeds);
  }

  std::vector<float> cos, sin;
  mrope_tables(d, pos, cos, sin);
  Value c = ops.input("rope_cos", {n, d.head_dim}, cos), s = ops.input("rope_sin", {n, d.head_dim}, sin);
  for (int64_t l = 0; l < d.num_layers; ++l) {
    check_cancelled();  // an abort lands between layers, not after the whole prefill
    LayerKv kv{LayerKv::Mode::WriteCache, l, cache_pos, true, segments};
    h = decoder_layer(ops, d, lp + "layers." + std::to_string(l) + ".", h, c, s, kv);
    if (image_idx && static_cast<size_t>(l) < vision->deepstack.size())
      h = ops.index_add_rows(h, image_idx, vision->deepstack[static_cast<size_t>(l)]);
  }
  // Only the last position's logits are needed; norm is per row so slicing first is exact.
  Value last = segments.empty() ? ops.slice(h, 0, n - 1, n) : h;
  last = ops.rms_norm(last, weight(ops, lp + "norm.weight", {d.hidden_size}), static_cast<float>(d.rms_norm_eps));
  Value logits = ops.linear(last, weight(ops, "vlm.lm_head.weight", {cfg.vocab_size, d.hidden_size}), nullptr);
  return segments.empty() ? ops.reshape(logits, {cfg.vocab_size}) : logits;
}

}  // namespace

Value backbone_forward(Ops& ops, const ModelConfig& cfg, std::span<const int64_t> ids, int64_t cache_pos,
                       const MropePositions& pos, const VisionOutput* vision) {
  return forward(ops, cfg, ids, cache_pos, pos, vision, {});
}

Value decode_lanes(Ops& ops, const ModelConfig& cfg, std::span<const LaneToken> lanes) {
  if (lanes.empty()) fail(ErrorCode::InvalidInput, "decode_lanes: no lanes");
  std::vector<int64_t> ids;
  std::vector<KvSegment> segments;
  MropePositions pos;
  for (const LaneToken& l : lanes) {
    ids.push_back(l.id);
    segments.push_back({1, l.lane, l.cache_pos});
    for (auto* axis : {&pos.t, &pos.h, &pos.w}) axis->push_back(l.rope_pos);
  }
  return forward(ops, cfg, ids, 0, pos, nullptr, segments);
}

Value prefill(Ops& ops, const ModelConfig& cfg, std::span<const int64_t> ids, const MropePositions& pos,
              const VisionOutput* vision) {
  return backbone_forward(ops, cfg, ids, 0, pos, vision);
}

Value decode(Ops& ops, const ModelConfig& cfg, int64_t id, int64_t cache_pos, int64_t rope_pos) {
  const int64_t one[1] = {id};
  return backbone_forward(ops, cfg, one, cache_pos, MropePositions::uniform(rope_pos, 1), nullptr);
}

}  // namespace alp::model
