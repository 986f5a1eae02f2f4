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

namespace alp::model {

// M-RoPE position ids of a token span (temporal, height, width rows), as model::rope_index gives them.
using PositionIds = model::MropePositions;

struct ImageBatch {
  const float* patches = nullptr;           // [Σ grid.patches(), patch_dim], processor layout, image after image
  std::span<const model::ImageGrid> grids;  // one per image: each is sized from its own frame (smart_resize)
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

  // Makes room for `positions` cache positions (prompt + reasoning budget) before a plan, so decode
  // never reallocates. Engines with a fixed capacity check it instead.
  virtual void reserve(int64_t positions) = 0;

  // Causal prefill of `ids` at cache positions [0, n). Image-pad positions take the encoded images in
  // order. Returns the logits of the last position (vocab floats).
  virtual std::vector<float> prefill(std::span<const int32_t> ids, const PositionIds& pos) = 0;

  // One token at cache position `cache_pos` with rope position `rope_pos` (all three axes equal).
  virtual std::vector<float> decode(int32_t id, int64_t cache_pos, int64_t rope_pos) = 0;

  // Whole Euler loop on the flow-time grid of model::flow_time_steps(steps), x updated in place.
  // `before_step` (may be empty) runs before each Euler step where the executor steps on the host, and
  // may throw to abort; a graph-replaying executor calls it once before the replay.
  virtual void denoise(float* x, int n_samples, int steps, int64_t prefix_len, int64_t rope_base,
                       const std::function<void()>& before_step) = 0;

  // Bytes of device/host memory held for weights and caches (for bench/ and inspect).
  virtual uint64_t weight_bytes() const = 0;
  virtual uint64_t cache_bytes() const = 0;
};

}  // namespace alp::model
