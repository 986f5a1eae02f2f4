#pragma once
// Executor over any model::Ops (CPU now, CUDA later): runs the single network definition in
// native/model. The prompt's KV is computed once and shared by every reasoning lane (Ops::kv_share);
// decode advances all unfinished lanes in one pass, denoise runs every sample's 64 action rows in one
// expert pass with per-sample (ragged) cache prefixes.
#include <functional>
#include <memory>
#include <optional>

#include "model/config.hpp"
#include "model/expert.hpp"
#include "model/ops.hpp"
#include "model/vision.hpp"
#include "model/executor.hpp"

namespace alp::model {

// Device-specific hooks: a GPU executor keeps the vision output outside its per-phase arena and
// replays the denoising loop as a captured graph; the CPU needs neither.
struct OpsHooks {
  std::function<uint64_t()> weight_bytes, cache_bytes;
  std::function<model::VisionOutput(const model::VisionOutput&)> keep_vision;  // optional
  std::function<std::vector<float>(const model::ModelConfig&, std::span<const float> noise,
                                   std::span<const model::ExpertLane> lanes)>
      denoise;  // optional; default model::denoise
  // Device preprocessing of the frames into the vision encoder's patch rows (optional).
  std::function<model::Value(const FrameBatch&)> preprocess;
  // Token selection on the device (optional; default: read the logits, model::select_tokens): row i
  // of `logits` [samplers.size(), vocab] with samplers[i], or the one row of a [vocab] Value for every
  // sampler. Set together with keep_logits, which keeps the prompt's logits Value past prefill.
  std::function<std::vector<int32_t>(const model::Value& logits, std::span<model::TokenSampler* const> samplers,
                                     const model::SamplingParams& params)>
      select;
  std::function<model::Value(const model::Value&)> keep_logits;
};

class OpsExecutor final : public Executor {
 public:
  OpsExecutor(std::unique_ptr<model::Ops> ops, const model::ModelConfig& cfg, ExecutorInfo info, OpsHooks hooks);
  ExecutorInfo info() const override { return info_; }
  int max_lanes() const override { return kMaxLanes; }
  void reserve(int64_t positions, int lanes) override;
  void encode_images(const ImageBatch& images) override;
  bool preprocess_on_device(const FrameBatch& frames) override;
  void prefill(std::span<const int32_t> ids, const PositionIds& pos) override;
  std::vector<int32_t> start_lanes(std::span<model::TokenSampler* const> samplers, const model::SamplingParams& params) override;
  std::vector<int32_t> decode(std::span<const LaneStep> steps, const model::SamplingParams& params) override;
  void denoise(float* x, std::span<const DenoiseLane> lanes, int steps, const std::function<void()>& before_step) override;
  uint64_t weight_bytes() const override { return hooks_.weight_bytes(); }
  uint64_t cache_bytes() const override { return hooks_.cache_bytes(); }

 private:
  std::unique_ptr<model::Ops> ops_;
  model::ModelConfig cfg_;
  ExecutorInfo info_;
  OpsHooks hooks_;
  std::optional<model::VisionOutput> vision_;
  model::Value device_patches_;  // from preprocess_on_device, for the next encode_images
  int64_t cache_capacity_ = 0;
  // The prompt's length and last logits (prefill), the shared part of every lane.
  int64_t prompt_len_ = 0;
  std::vector<float> prompt_logits_;
  model::Value prompt_logits_value_;  // instead, on the device, when hooks_.select is set
  int lanes_ = 0;
  // Denoise rows are 64 per lane; 64 lanes keep one pass's activations to a few MB per layer.
  static constexpr int kMaxLanes = 64;
};

}  // namespace alp::model
