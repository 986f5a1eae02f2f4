#include "model/vision.hpp"

#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "model/decoder_layer.hpp"

namespace alp::model {
namespace {

Value merger(Ops& ops, const VisionConfig& v, const std::string& p, const Value& x, bool postshuffle) {
  const int64_t m = v.hidden_size * v.merge_unit();
  const int64_t norm_dim = postshuffle ? m : v.hidden_size;
  // The postshuffle (DeepStack) mergers normalise the concatenated 2x2 group; the main merger
  // normalises each patch before concatenating.
  // -1, not n: the merged-token count must stay a function of the (dynamic) patch count in ONNX.
  Value y = postshuffle ? ops.reshape(x, {-1, m}) : x;
  y = ops.layer_norm(y, weight(ops, p + "norm.weight", {norm_dim}), weight(ops, p + "norm.bias", {norm_dim}), 1e-6f);
  y = ops.reshape(y, {-1, m});
  y = ops.linear(y, weight(ops, p + "linear_fc1.weight", {m, m}), weight(ops, p + "linear_fc1.bias", {m}));
  y = ops.gelu_erf(y);
  return ops.linear(y, weight(ops, p + "linear_fc2.weight", {v.out_hidden_size, m}),
                    weight(ops, p + "linear_fc2.bias", {v.out_hidden_size}));
}

}  // namespace

VisionOutput run_vision(Ops& ops, const ModelConfig& cfg, const Value& patches, std::span<const ImageGrid> grids) {
  const VisionConfig& v = cfg.vision;
  const std::string vp = "vlm.model.visual.";
  if (grids.empty()) fail(ErrorCode::InvalidInput, "run_vision: no images");
  int64_t total = 0;
  for (const ImageGrid& g : grids) {
    if (g.t < 1 || g.h % v.spatial_merge_size || g.w % v.spatial_merge_size || g.h <= 0 || g.w <= 0)
      fail(ErrorCode::InvalidInput, "run_vision: grid (" + std::to_string(g.t) + ", " + std::to_string(g.h) + ", " +
                                        std::to_string(g.w) + ") must be positive with h, w multiples of " +
                                        std::to_string(v.spatial_merge_size));
    total += g.patches();
  }
  if (patches->shape != Shape{total, v.patch_dim()})
    fail(ErrorCode::InvalidInput, "run_vision: patches shape " + shape_str(patches->shape) + ", expected " +
                                      shape_str({total, v.patch_dim()}));

  const int64_t hid = v.hidden_size, heads = v.num_heads, hd = v.head_dim();
  Value pw = ops.reshape(weight(ops, vp + "patch_embed.proj.weight",
                                {hid, v.in_channels, v.temporal_patch_size, v.patch_size, v.patch_size}),
                         {hid, v.patch_dim()});
  Value h = ops.linear(patches, pw, weight(ops, vp + "patch_embed.proj.bias", {hid}));

  // Frames of one size (every camera of a plan) are batched: the per-patch tables come in as
  // [frames, patches per frame, ·] (the exported graph's image axis) and attention runs per frame
  // in one batched call; frames of mixed sizes run frame by frame.
  int64_t frames = 0;
  bool uniform = true;
  for (const ImageGrid& g : grids) {
    frames += g.t;
    uniform = uniform && g.h == grids[0].h && g.w == grids[0].w;
  }
  const int64_t per_frame = grids[0].h * grids[0].w;
  auto table = [&](std::string_view name, int64_t cols, auto data) {
    using T = typename decltype(data)::value_type;
    auto make = [&](Shape shape) {
      if constexpr (std::is_same_v<T, int64_t>) return ops.input_index(name, std::move(shape), data);
      else return ops.input(name, std::move(shape), data);
    };
    return uniform ? ops.reshape(make({frames, per_frame, cols}), {-1, cols}) : make({total, cols});
  };
  std::vector<int64_t> idx;
  std::vector<float> wts, cos, sin;
  vision_pos_interp(v, grids, idx, wts);
  Value pos = ops.interp_rows(weight(ops, vp + "pos_embed.weight", {v.num_position_embeddings, hid}),
                              table("vision_pos_idx", 4, std::span<const int64_t>(idx)),
                              table("vision_pos_w", 4, std::span<const float>(wts)));
  h = ops.add(h, pos);
  vision_rope_tables(v, grids, cos, sin);
  Value vcos = table("vision_rope_cos", hd, std::span<const float>(cos)), vsin = table("vision_rope_sin", hd, std::span<const float>(sin));
  const float scale = static_cast<float>(std::pow(static_cast<double>(hd), -0.5));

  VisionOutput out;
  for (int64_t b = 0; b < v.depth; ++b) {
    check_cancelled();  // an abort lands between blocks, not after the whole encoder
    const std::string p = vp + "blocks." + std::to_string(b) + ".";
    Value x = ops.layer_norm(h, weight(ops, p + "norm1.weight", {hid}), weight(ops, p + "norm1.bias", {hid}), 1e-6f);
    Value qkv = ops.reshape(ops.linear(x, weight(ops, p + "attn.qkv.weight", {3 * hid, hid}), weight(ops, p + "attn.qkv.bias", {3 * hid})),
                            {total, 3, heads, hd});
    Value q = ops.rope(ops.reshape(ops.slice(qkv, 1, 0, 1), {total, heads, hd}), vcos, vsin);
    Value k = ops.rope(ops.reshape(ops.slice(qkv, 1, 1, 2), {total, heads, hd}), vcos, vsin);
    Value val = ops.reshape(ops.slice(qkv, 1, 2, 3), {total, heads, hd});
    // Attention stays within one frame (cu_seqlens per frame in transformers).
    Value a;
    if (uniform) {
      a = ops.attention_blocks(q, k, val, frames, scale);
    } else {
      std::vector<Value> parts;
      int64_t start = 0;
      for (const ImageGrid& g : grids)
        for (int64_t t = 0; t < g.t; ++t) {
          const int64_t len = g.h * g.w;
          parts.push_back(ops.attention_blocks(ops.slice(q, 0, start, start + len), ops.slice(k, 0, start, start + len),
                                               ops.slice(val, 0, start, start + len), 1, scale));
          start += len;
        }
      a = parts.size() == 1 ? parts[0] : ops.concat(parts, 0);
    }
    a = ops.linear(ops.reshape(a, {total, hid}), weight(ops, p + "attn.proj.weight", {hid, hid}), weight(ops, p + "attn.proj.bias", {hid}));
    h = ops.add(h, a);
    Value y = ops.layer_norm(h, weight(ops, p + "norm2.weight", {hid}), weight(ops, p + "norm2.bias", {hid}), 1e-6f);
    y = ops.linear(y, weight(ops, p + "mlp.linear_fc1.weight", {v.intermediate_size, hid}), weight(ops, p + "mlp.linear_fc1.bias", {v.intermediate_size}));
    y = ops.linear(ops.gelu_tanh(y), weight(ops, p + "mlp.linear_fc2.weight", {hid, v.intermediate_size}), weight(ops, p + "mlp.linear_fc2.bias", {hid}));
    h = ops.add(h, y);
    for (size_t j = 0; j < v.deepstack_visual_indexes.size(); ++j)
      if (v.deepstack_visual_indexes[j] == b)
        out.deepstack.push_back(merger(ops, v, vp + "deepstack_merger_list." + std::to_string(j) + ".", h, true));
  }
  out.embeds = merger(ops, v, vp + "merger.", h, false);
  return out;
}

}  // namespace alp::model
