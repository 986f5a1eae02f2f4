#pragma once
// The flow-matching Euler loop as one CUDA graph, for one sample or a batch of samples (reasoning
// lanes, each with its own prefix). The first call for a given (lanes' offsets, rope deltas, steps) runs the loop eagerly once on memory private to that graph (so weights, fp8 copies, cuBLASLt
// scratch and the arena chunks exist), then captures the whole loop (every step's
// alp::model::expert_velocity, the single network definition, plus launch_euler_update in place on a
// fixed device state buffer) and caches the instantiated graph in the CudaOps (an LRU of
// CudaOptions::max_graphs loops: the prefix offset changes with the prompt). Each call then uploads
// the noise into that buffer, replays the graph and reads the state back.
// Baked into the graph: the flow times, the rope tables of the action tokens, the KV cache addresses
// (kv_reserve drops the cache of graphs). Read at replay time: the noise and the KV cache contents,
// so a new prompt with the same offset replays the same graph.
#include <cstdint>
#include <span>
#include <vector>

#include "backends/cuda/cuda_ops.hpp"
#include "model/config.hpp"
#include "model/expert.hpp"

namespace alp::cuda {

// Same contract and result as alp::model::denoise(ops, cfg, noise, offset, rope_delta).
std::vector<float> cuda_denoise(CudaOps& ops, const model::ModelConfig& cfg, std::span<const float> noise,
                                int64_t offset, int64_t rope_delta);
// Same contract and result as alp::model::denoise(ops, cfg, noise, lanes): every sample in one loop.
std::vector<float> cuda_denoise(CudaOps& ops, const model::ModelConfig& cfg, std::span<const float> noise,
                                std::span<const model::ExpertLane> lanes);

}  // namespace alp::cuda
