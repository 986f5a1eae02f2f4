#pragma once
// "Run this component": the only thing that differs between backends. The pipeline (planner.cpp)
// owns the prompt layout, sampling, the flow-matching loop's bookkeeping and the trajectory maths;
// an Executor runs the network's four components on its device. CPU and CUDA implement it with the
// single network definition in native/model over their Ops; TensorRT implements it with engines.
#include <cstdint>
#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "model/rope_tables.hpp"
#include "model/sampling.hpp"

namespace alp::model {

// M-RoPE position ids of a token span (temporal, height, width rows), as model::rope_index gives them.
using PositionIds = model::MropePositions;

struct ImageBatch {
  const float* patches = nullptr;           // [Σ grid.patches(), patch_dim], processor layout, image after image
  std::span<const model::ImageGrid> grids;  // one per image: each is sized from its own frame (smart_resize)
};

// One reasoning lane's step: token `id` at cache position `cache_pos` (rope position `rope_pos` on all
// three axes) of lane `lane`; `sampler` (null: none wanted) draws the lane's next token.
struct LaneStep {
  int lane = 0;
  int32_t id = 0;
  int64_t cache_pos = 0;
  int64_t rope_pos = 0;
  model::TokenSampler* sampler = nullptr;
};

// One sample of a batched denoise: reasoning lane `lane`'s cache prefix [0, prefix_len); its action
// token j sits at rope position rope_base + j.
struct DenoiseLane {
  int lane = 0;
  int64_t prefix_len = 0;
  int64_t rope_base = 0;
};

// The camera frames as given (uint8 RGB HWC, all of one size), for executors that preprocess on
// their own device.
struct FrameBatch {
  std::span<const uint8_t* const> rgb;  // n_images frames
  int height = 0, width = 0;            // input size
  int out_height = 0, out_width = 0;    // model input size (multiples of patch * merge)
  const float* mean = nullptr;          // [3]
  const float* stdev = nullptr;         // [3]
};

struct ExecutorInfo {
  std::string backend;    // "cpu" | "cuda" | "tensorrt"
  std::string precision;  // "fp32" | "bf16" | "fp16" | "fp8"
  std::string device;     // human-readable device name
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual ExecutorInfo info() const = 0;

  // Vision encoder + mergers. Keeps the image embeddings and DeepStack features on the device for the
  // next prefill; returns nothing because nothing but the prefill consumes them.
  virtual void encode_images(const ImageBatch& images) = 0;

  // Resize, normalise and patchify `frames` on the executor's device for the next encode_images(),
  // which is then given patches == nullptr. False: this executor has no device preprocessing (the
  // planner preprocesses on the host and passes the patches).
  virtual bool preprocess_on_device(const FrameBatch& frames) {
    (void)frames;
    return false;
  }

  // Most reasoning lanes one start_lanes() may open (and so samples one decode/denoise call carries);
  // the planner runs larger `samples` in groups of this many.
  virtual int max_lanes() const = 0;

  // Makes room for `positions` cache positions per lane (prompt + reasoning budget) and `lanes` lanes
  // before a plan, so decode never reallocates. Engines with a fixed capacity check it instead.
  virtual void reserve(int64_t positions, int lanes) = 0;

  // Causal prefill of `ids` at cache positions [0, n). Image-pad positions take the encoded images in
  // order. Keeps the last position's logits for start_lanes().
  virtual void prefill(std::span<const int32_t> ids, const PositionIds& pos) = 0;

  // Opens samplers.size() reasoning lanes after the prompt (the prompt's cache is shared, each lane's
  // later positions are its own; earlier lanes' tokens are dropped) and returns lane i's first token,
  // drawn from the prompt's last logits with samplers[i] (model::select_tokens, or its device form: see
  // OpsHooks::select); a null sampler (teacher forcing) gives -1.
  virtual std::vector<int32_t> start_lanes(std::span<model::TokenSampler* const> samplers,
                                           const model::SamplingParams& params) = 0;

  // One token for each listed lane in one pass (finished lanes are simply not listed). Returns each
  // step's next token (-1 where the step has no sampler), selected on the executor's device.
  virtual std::vector<int32_t> decode(std::span<const LaneStep> steps, const model::SamplingParams& params) = 0;

  // Whole Euler loop on the flow-time grid of model::flow_time_steps(steps) for every listed sample at
  // once; x [lanes.size() * n_waypoints * action_dims], sample-major, updated in place.
  // `before_step` (may be empty) runs before each Euler step where the executor steps on the host, and
  // may throw to abort; a graph-replaying executor calls it once before the replay.
  virtual void denoise(float* x, std::span<const DenoiseLane> lanes, int steps,
                       const std::function<void()>& before_step) = 0;

  // Bytes of device/host memory held for weights and caches (for bench/ and inspect).
  virtual uint64_t weight_bytes() const = 0;
  virtual uint64_t cache_bytes() const = 0;
};

}  // namespace alp::model
