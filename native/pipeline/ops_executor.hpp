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
#include "pipeline/executor.hpp"

namespace alp::pipeline {

class OpsExecutor final : public Executor {
 public:
  OpsExecutor(std::unique_ptr<model::Ops> ops, const model::ModelConfig& cfg, ExecutorInfo info,
              std::function<uint64_t()> weight_bytes, std::function<uint64_t()> cache_bytes);
  ExecutorInfo info() const override { return info_; }
  void reserve(int64_t positions) override;
  void encode_images(const ImageBatch& images) override;
  std::vector<float> prefill(std::span<const int32_t> ids, const PositionIds& pos) override;
  std::vector<float> decode(int32_t id, int64_t cache_pos, int64_t rope_pos) override;
  void expert_velocity(const float* x, int n_samples, float t, int64_t prefix_len, int64_t rope_base,
                       float* v_out) override;
  void denoise(float* x, int n_samples, int steps, int64_t prefix_len, int64_t rope_base) override;
  uint64_t weight_bytes() const override { return weight_bytes_(); }
  uint64_t cache_bytes() const override { return cache_bytes_(); }

 private:
  std::unique_ptr<model::Ops> ops_;
  model::ModelConfig cfg_;
  ExecutorInfo info_;
  std::function<uint64_t()> weight_bytes_, cache_bytes_;
  std::optional<model::VisionOutput> vision_;
  int64_t cache_capacity_ = 0;
};

}  // namespace alp::pipeline
