#include "model/ops_executor.hpp"

#include <algorithm>
#include <utility>

#include "core/error.hpp"
#include "model/backbone.hpp"
#include "model/expert.hpp"
#include "model/rope_tables.hpp"

namespace alp::model {

OpsExecutor::OpsExecutor(std::unique_ptr<model::Ops> ops, const model::ModelConfig& cfg, ExecutorInfo info,
                         OpsHooks hooks)
    : ops_(std::move(ops)), cfg_(cfg), info_(std::move(info)), hooks_(std::move(hooks)) {}

void OpsExecutor::reserve(int64_t positions) {
  if (positions <= cache_capacity_) return;
  // Grows only between plans (prefill asks for prompt + reasoning budget up front), never per token.
  cache_capacity_ = std::max<int64_t>(positions, cache_capacity_ * 2);
  model::reserve_kv_cache(*ops_, cfg_, cache_capacity_);
}

bool OpsExecutor::preprocess_on_device(const FrameBatch& frames) {
  if (!hooks_.preprocess) return false;
  device_patches_ = hooks_.preprocess(frames);
  return true;
}

void OpsExecutor::encode_images(const ImageBatch& images) {
  int64_t rows = 0;
  for (const model::ImageGrid& g : images.grids) rows += g.patches();
  const int64_t dim = cfg_.vision.patch_dim();
  model::Value patches;
  if (images.patches) {
    patches = ops_->input("pixel_values", {rows, dim}, std::span<const float>(images.patches, static_cast<size_t>(rows * dim)));
  } else {
    if (!device_patches_ || device_patches_->shape != Shape{rows, dim})
      fail(ErrorCode::Internal, "encode_images: no device patches of [" + std::to_string(rows) + ", " + std::to_string(dim) +
                                    "] (preprocess_on_device first)");
    patches = std::exchange(device_patches_, nullptr);
  }
  vision_ = model::run_vision(*ops_, cfg_, patches, images.grids);
  if (hooks_.keep_vision) vision_ = hooks_.keep_vision(*vision_);
}

std::vector<float> OpsExecutor::prefill(std::span<const int32_t> ids, const PositionIds& pos) {
  std::vector<int64_t> ids64(ids.begin(), ids.end());
  model::Value logits = model::prefill(*ops_, cfg_, ids64, pos, vision_ ? &*vision_ : nullptr);
  return ops_->read("logits", logits);
}

std::vector<float> OpsExecutor::decode(int32_t id, int64_t cache_pos, int64_t rope_pos) {
  if (cache_pos >= cache_capacity_)
    fail(ErrorCode::Internal, "decode past the KV cache capacity (" + std::to_string(cache_capacity_) + ")");
  return ops_->read("logits", model::decode(*ops_, cfg_, id, cache_pos, rope_pos));
}

void OpsExecutor::denoise(float* x, int n_samples, int steps, int64_t prefix_len, int64_t rope_base,
                          const std::function<void()>& before_step) {
  model::ModelConfig cfg = cfg_;
  cfg.num_inference_steps = steps;
  const int64_t n = cfg_.action_space.n_waypoints * cfg_.action_dims;
  for (int s = 0; s < n_samples; ++s) {
    std::span<const float> noise(x + s * n, static_cast<size_t>(n));
    std::vector<float> out;
    if (hooks_.denoise) {
      if (before_step) before_step();  // one graph replay per sample: checked once
      out = hooks_.denoise(cfg, noise, prefix_len, rope_base - prefix_len);
    } else {
      out = model::denoise(*ops_, cfg, noise, prefix_len, rope_base - prefix_len, before_step);
    }
    std::copy(out.begin(), out.end(), x + s * n);
  }
}

}  // namespace alp::model
