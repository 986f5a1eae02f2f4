#pragma once
// Token selection on the device: the CUDA executor's decode returns K token ids instead of copying
// K x vocab logits to the host. The rule is model/sampling_rule.hpp's select_lane (the same source the
// host tests run through model::select_lane_host), one 512-thread block per lane; the uniforms are
// the host's SplitMix64 draws (model::draw_uniforms), passed in, so the random stream is unchanged.
// How the result can differ from the CPU executor's sort rule, and what the GPU check asserts, is
// argued in sampling_rule.hpp.
#include <cuda_runtime.h>

#include <cstdint>
#include <span>
#include <vector>

#include "backends/cuda/resources.hpp"
#include "backends/cuda/token_select_kernel.hpp"
#include "model/ops.hpp"
#include "model/sampling.hpp"

namespace alp::cuda {

class CudaOps;

// The executor's selector: fixed device and pinned buffers (grown between plans, never per token to a
// larger size than the most lanes seen), one host sync per call for the ids.
class DeviceTokenSelector {
 public:
  explicit DeviceTokenSelector(CudaOps& ops) : ops_(ops) {}
  // Frees on the ops' device whatever thread runs it (the JS thread, usually), after queued work.
  ~DeviceTokenSelector();
  DeviceTokenSelector(const DeviceTokenSelector&) = delete;
  DeviceTokenSelector& operator=(const DeviceTokenSelector&) = delete;

  // Row i of `logits` ([samplers.size(), vocab]) with samplers[i], or, for a [vocab] Value (the
  // prompt's last logits), that one row for every sampler. Null samplers give -1 and cost nothing.
  // Same ids, draws and errors as model::select_tokens (up to the sum-order rule in sampling_rule.hpp).
  std::vector<int32_t> select(const model::Value& logits, std::span<model::TokenSampler* const> samplers,
                              const model::SamplingParams& p);

 private:
  void reserve(int lanes, int64_t vocab);
  CudaOps& ops_;
  DeviceBuffer scratch_, in_, out_;
  PinnedBuffer host_in_, host_out_;
  int lanes_cap_ = 0;
  int64_t vocab_cap_ = 0;
};

}  // namespace alp::cuda
