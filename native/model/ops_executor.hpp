#pragma once
// Executor over any model::Ops (CPU now, CUDA later): runs the single network definition in
// native/model. Samples with different reasoning lengths have different cache prefixes, so the expert
// runs one sample at a time over the shared prefill cache.
#include <functional>
#include <memory>
#include <optional>

#include "model/config.hpp"
#include "model/ops.hpp"
#include "model/vision.hpp"
#include "model/executor.hpp"

namespace alp::model {

// Device-specific hooks: a GPU executor keeps the vision output outside its per-phase arena and
// replays the denoising loop as a captured graph; the CPU needs neither.
struct OpsHooks {
  std::function<uint64_t()> weight_bytes, cache_bytes;
  std::function<model::VisionOutput(const model::VisionOutput&)> keep_vision;  // optional
  std::function<std::vector<float>(const model::ModelConfig&, std::span<const float> noise, int64_t offset,
                                   int64_t rope_delta)>
      denoise;  // optional; default model::denoise
  // Device preprocessing of the frames into the vision encoder's patch rows (optional).
  std::function<model::Value(const FrameBatch&)> preprocess;
};

class OpsExecutor final : public Executor {
 public:
  OpsExecutor(std::unique_ptr<model::Ops> ops, const model::ModelConfig& cfg, ExecutorInfo info, OpsHooks hooks);
  ExecutorInfo info() const override { return info_; }
  void reserve(int64_t positions) override;
  void encode_images(const ImageBatch& images) override;
  bool preprocess_on_device(const FrameBatch& frames) override;
  std::vector<float> prefill(std::span<const int32_t> ids, const PositionIds& pos) override;
  std::vector<float> decode(int32_t id, int64_t cache_pos, int64_t rope_pos) override;
  void denoise(float* x, int n_samples, int steps, int64_t prefix_len, int64_t rope_base,
               const std::function<void()>& before_step) override;
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
};

}  // namespace alp::model
