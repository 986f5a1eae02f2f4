#pragma once
// plan(): preprocess -> vision -> prefill -> reasoning decode -> action-expert denoising -> trajectory.
// One Planner per JS planner; it owns its checkpoint mapping and its Executor (device buffers, KV
// cache, stream). Not thread-safe: the binding runs at most one plan at a time on the planner's worker.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "model/trajectory.hpp"
#include "model/executor.hpp"
#include "model/ops.hpp"

namespace alp::pipeline {

struct LoadOptions {
  std::string checkpoint;
  std::string engines;            // TensorRT engines dir (backend "tensorrt")
  std::string backend = "cpu";    // "cpu" | "cuda" | "tensorrt" ("auto" is resolved in lib/)
  std::string precision = "fp32";
  int device = 0;
  int threads = 0;                // CPU worker threads; 0 = all cores
  // Backend "cpu" only: wraps the CPU executor's Ops before the planner's executor takes it (FP8
  // calibration watches every linear of real plans through it, export/activation_calibration.hpp).
  std::function<std::unique_ptr<model::Ops>(std::unique_ptr<model::Ops>)> wrap_ops;
};

struct Frame {
  const uint8_t* rgb = nullptr;   // borrowed from the caller for the duration of plan()
  int width = 0, height = 0;
};

struct PlanRequest {
  std::vector<int32_t> prompt_ids;     // rendered prompt, image pads expanded, history ids filled
  std::array<Frame, 16> frames;        // camera-major, oldest -> newest
  std::vector<double> ego_history;     // 16 x 13: t_seconds, x, y, z, R row-major (world frame)
  int samples = 1;
  int sample_batch = 0;                // most samples per decode/denoise pass; 0: all (up to the executor's lanes)
  uint32_t seed = 0;
  int diffusion_steps = 10;
  int max_reasoning_tokens = 256;
  float temperature = 0.6f;
  float top_p = 0.98f;
  std::optional<std::vector<float>> initial_noise;     // samples x 64 x 2
  std::optional<std::vector<int32_t>> forced_tokens;   // teacher-forced reasoning ids
};

struct Timings {
  double preprocess_ms = 0, vision_ms = 0, prefill_ms = 0, reasoning_ms = 0, action_ms = 0, total_ms = 0;
};

struct PlanResult {
  std::vector<std::vector<int32_t>> tokens;  // generated ids per sample
  std::vector<double> positions;             // samples x 64 x 3
  std::vector<double> rotations;             // samples x 64 x 9
  std::vector<double> timestamps;            // 64, seconds after t0
  std::vector<double> accel, curvature;      // samples x 64, denormalised controls
  std::vector<float> normalized;             // samples x 64 x 2, raw flow-matching output
  double v0 = 0;
  Timings timings;
};

// 16 ego poses from the binding's rows (t_seconds, x, y, z, R row-major), oldest first, still in the
// world frame; InvalidInput on a wrong count or a non-finite value. The planner and the addon's
// trajectory helpers read egoHistory through this one function.
std::vector<model::Pose> ego_history_poses(std::span<const double> rows);

// Called on the worker thread for each generated token, in order. Must not throw.
using TokenSink = std::function<void(int sample, int32_t token)>;

class Planner {
 public:
  static std::unique_ptr<Planner> load(const LoadOptions& options);
  ~Planner();

  PlanResult plan(const PlanRequest& request, const TokenSink& on_token, const std::atomic<bool>& abort);

  model::ExecutorInfo info() const;
  const json::Value& config() const;
  int64_t image_tokens_per_image() const;
  int64_t max_positions() const;  // the backbone's context: prompt + reasoning must fit

 private:
  struct Impl;
  explicit Planner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace alp::pipeline
