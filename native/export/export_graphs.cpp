#include "export/export_graphs.hpp"

#include "core/engine_manifest.hpp"
#include "core/error.hpp"
#include "model/backbone.hpp"
#include "model/expert.hpp"
#include "model/vision.hpp"

namespace alp::exporter {

namespace N = engine::names;
using model::Value;

ImageFeatures vision_graph(model::Ops& ops, const model::ModelConfig& cfg, std::span<const float> pixel_values,
                           const model::ImageGrid& grid, int64_t images) {
  const int64_t patches = grid.patches(), pd = cfg.vision.patch_dim();
  if (images < 1 || grid.t != 1 || static_cast<int64_t>(pixel_values.size()) != images * patches * pd)
    fail(ErrorCode::InvalidInput, "vision_graph: pixel_values has " + std::to_string(pixel_values.size()) +
                                      " values, expected " + std::to_string(images) + " single-frame images x " +
                                      std::to_string(patches) + " patches x " + std::to_string(pd));
  const std::vector<model::ImageGrid> grids(static_cast<size_t>(images), grid);
  const Value px = ops.reshape(ops.input(N::kPixelValues, {images, patches, pd}, pixel_values), {-1, pd});
  model::VisionOutput out = model::run_vision(ops, cfg, px, grids);
  ImageFeatures f;
  f.rows = out.embeds->shape.at(0);
  const int64_t hid = out.embeds->shape.at(1);
  f.embeds = ops.read(N::kImageEmbeds, out.embeds);
  if (!out.deepstack.empty()) {
    // One stacked output so the llm takes one deepstack input whatever the number of merger layers.
    std::vector<Value> rows;
    for (const Value& d : out.deepstack) rows.push_back(ops.reshape(d, {1, f.rows, hid}));
    f.deepstack = ops.read(N::kDeepstackEmbeds, rows.size() == 1 ? rows[0] : ops.concat(rows, 0));
  }
  return f;
}

std::vector<float> llm_graph(model::Ops& ops, const model::ModelConfig& cfg, std::span<const int64_t> ids,
                             int64_t cache_pos, const model::MropePositions& pos, const ImageFeatures* images) {
  const int64_t hid = cfg.text.hidden_size;
  model::VisionOutput vis;
  if (images) {
    const int64_t layers = static_cast<int64_t>(cfg.vision.deepstack_visual_indexes.size());
    if (static_cast<int64_t>(images->embeds.size()) != images->rows * hid ||
        static_cast<int64_t>(images->deepstack.size()) != layers * images->rows * hid)
      fail(ErrorCode::InvalidInput, "llm_graph: image features of " + std::to_string(images->rows) +
                                        " rows do not match hidden " + std::to_string(hid) + " x " +
                                        std::to_string(layers) + " deepstack layers");
    vis.embeds = ops.input(N::kImageEmbeds, {images->rows, hid}, images->embeds);
    if (layers > 0) {
      Value ds = ops.input(N::kDeepstackEmbeds, {layers, images->rows, hid}, images->deepstack);
      for (int64_t j = 0; j < layers; ++j) vis.deepstack.push_back(ops.reshape(ops.slice(ds, 0, j, j + 1), {images->rows, hid}));
    }
  }
  return ops.read(N::kLogits, model::backbone_forward(ops, cfg, ids, cache_pos, pos, images ? &vis : nullptr));
}

std::vector<float> expert_graph(model::Ops& ops, const model::ModelConfig& cfg, std::span<const float> x, float t,
                                int64_t offset, int64_t rope_delta) {
  const int64_t n = cfg.action_space.n_waypoints;
  if (static_cast<int64_t>(x.size()) != n * cfg.action_dims)
    fail(ErrorCode::InvalidInput, "expert_graph: x has " + std::to_string(x.size()) + " values, expected " +
                                      std::to_string(n * cfg.action_dims));
  Value xv = ops.input(N::kX, {n, cfg.action_dims}, x);
  Value tv = ops.input(N::kT, {1, 1}, std::span<const float>(&t, 1));
  return ops.read(N::kVelocity, model::expert_velocity(ops, cfg, xv, tv, offset, rope_delta));
}

}  // namespace alp::exporter
