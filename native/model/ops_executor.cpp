#include "model/ops_executor.hpp"

#include <algorithm>
#include <utility>

#include "core/error.hpp"
#include "model/backbone.hpp"
#include "model/expert.hpp"
#include "model/rope_tables.hpp"
#include "model/sampling.hpp"

namespace alp::model {

OpsExecutor::OpsExecutor(std::unique_ptr<model::Ops> ops, const model::ModelConfig& cfg, ExecutorInfo info,
                         OpsHooks hooks)
    : ops_(std::move(ops)), cfg_(cfg), info_(std::move(info)), hooks_(std::move(hooks)) {}

void OpsExecutor::reserve(int64_t positions, int lanes) {
  if (lanes < 1 || lanes > kMaxLanes)
    fail(ErrorCode::Internal, "reserve: " + std::to_string(lanes) + " lanes, this executor takes 1.." + std::to_string(kMaxLanes));
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

void OpsExecutor::prefill(std::span<const int32_t> ids, const PositionIds& pos) {
  std::vector<int64_t> ids64(ids.begin(), ids.end());
  lanes_ = 0;  // lane 0 writes every position whatever the previous plan's lanes were
  model::Value logits = model::prefill(*ops_, cfg_, ids64, pos, vision_ ? &*vision_ : nullptr);
  prompt_logits_.clear();
  prompt_logits_value_ = nullptr;
  if (hooks_.select) prompt_logits_value_ = hooks_.keep_logits ? hooks_.keep_logits(logits) : logits;
  else prompt_logits_ = ops_->read("logits", logits);
  prompt_len_ = static_cast<int64_t>(ids.size());
}

std::vector<int32_t> OpsExecutor::start_lanes(std::span<model::TokenSampler* const> samplers,
                                              const model::SamplingParams& params) {
  const int n = static_cast<int>(samplers.size());
  if (prompt_len_ == 0) fail(ErrorCode::Internal, "start_lanes before prefill");
  if (n < 1 || n > kMaxLanes)
    fail(ErrorCode::Internal, "start_lanes: " + std::to_string(n) + " lanes, this executor takes 1.." + std::to_string(kMaxLanes));
  ops_->kv_share(prompt_len_, n);
  lanes_ = n;
  if (hooks_.select) return hooks_.select(prompt_logits_value_, samplers, params);
  std::vector<int32_t> first(samplers.size(), -1);
  for (size_t i = 0; i < samplers.size(); ++i)
    if (samplers[i]) first[i] = model::select_tokens(prompt_logits_, samplers.subspan(i, 1), params)[0];
  return first;
}

std::vector<int32_t> OpsExecutor::decode(std::span<const LaneStep> steps, const model::SamplingParams& params) {
  if (steps.empty()) fail(ErrorCode::Internal, "decode: no lanes");
  std::vector<model::LaneToken> lanes;
  std::vector<model::TokenSampler*> samplers;
  for (const LaneStep& s : steps) {
    if (s.lane < 0 || s.lane >= lanes_) fail(ErrorCode::Internal, "decode: lane " + std::to_string(s.lane) + " of " + std::to_string(lanes_));
    if (s.cache_pos >= cache_capacity_)
      fail(ErrorCode::Internal, "decode past the KV cache capacity (" + std::to_string(cache_capacity_) + ")");
    lanes.push_back({s.lane, s.id, s.cache_pos, s.rope_pos});
    samplers.push_back(s.sampler);
  }
  const model::Value logits = model::decode_lanes(*ops_, cfg_, lanes);
  if (hooks_.select) return hooks_.select(logits, samplers, params);  // the logits stay on the device
  return model::select_tokens(ops_->read("logits", logits), samplers, params);
}

void OpsExecutor::denoise(float* x, std::span<const DenoiseLane> lanes, int steps, const std::function<void()>& before_step) {
  if (lanes.empty()) fail(ErrorCode::Internal, "denoise: no samples");
  model::ModelConfig cfg = cfg_;
  cfg.num_inference_steps = steps;
  std::vector<model::ExpertLane> el;
  for (const DenoiseLane& l : lanes) {
    if (l.lane < 0 || l.lane >= std::max(lanes_, 1))
      fail(ErrorCode::Internal, "denoise: lane " + std::to_string(l.lane) + " of " + std::to_string(lanes_));
    el.push_back({l.lane, l.prefix_len, l.rope_base - l.prefix_len});
  }
  const size_t n = static_cast<size_t>(cfg_.action_space.n_waypoints * cfg_.action_dims) * lanes.size();
  std::span<const float> noise(x, n);
  std::vector<float> out;
  if (hooks_.denoise) {
    if (before_step) before_step();  // one graph replay: checked once
    out = hooks_.denoise(cfg, noise, el);
  } else {
    out = model::denoise(*ops_, cfg, noise, el, before_step);
  }
  std::copy(out.begin(), out.end(), x);
}

}  // namespace alp::model
