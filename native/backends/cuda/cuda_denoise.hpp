#pragma once
// The flow-matching Euler loop as one CUDA graph, for one sample or a batch of samples (reasoning
// lanes, each with its own prefix). The first call for a given (steps, shared prefix, each sample's lane, offset, rope delta) runs the loop eagerly once on memory private to that graph (so weights, fp8 copies, cuBLASLt
// scratch and the arena chunks exist), then captures the whole loop (every step's
// alp::model::expert_velocity, the single network definition, plus launch_euler_update in place on a
// fixed device state buffer) and keeps the instantiated graph, at most CudaOptions::max_graphs loops
// (least recently used dropped first: the prefix offset changes with the prompt). Each call then
// uploads the noise into that buffer, replays the graph and reads the state back.
// Baked into the graph: the flow times, the rope tables of the action tokens, the KV cache, GEMM
// scratch and attention workspace addresses (when any of them moves, CudaOps::memory_generation()
// changes and the next call drops every graph). Read at replay time: the noise and the KV cache
// contents, so a new prompt with the same offset replays the same graph.
// Ownership runs one way: the denoiser uses its CudaOps (which knows nothing of graphs) and must not
// outlive it; every call returns with nothing in flight.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <tuple>
#include <vector>

#include "backends/cuda/cuda_ops.hpp"
#include "backends/cuda/lru_cache.hpp"
#include "model/config.hpp"
#include "model/expert.hpp"

namespace alp::cuda {

struct DenoiseGraph;  // cuda_denoise.cpp

class CudaDenoiser {
 public:
  explicit CudaDenoiser(CudaOps& ops);
  ~CudaDenoiser();
  CudaDenoiser(const CudaDenoiser&) = delete;
  CudaDenoiser& operator=(const CudaDenoiser&) = delete;

  // Same contract and result as alp::model::denoise(ops, cfg, noise, offset, rope_delta).
  std::vector<float> denoise(const model::ModelConfig& cfg, std::span<const float> noise, int64_t offset,
                             int64_t rope_delta);
  // Same contract and result as alp::model::denoise(ops, cfg, noise, lanes): every sample in one loop.
  std::vector<float> denoise(const model::ModelConfig& cfg, std::span<const float> noise,
                             std::span<const model::ExpertLane> lanes);
  // Captured loops held now, one per (steps, the lanes' shared prefix, then lane, offset, rope_delta
  // per sample) since captured memory last moved; at most CudaOptions::max_graphs.
  size_t graph_count() const { return graphs_.size(); }
  // Loops dropped to respect that bound.
  size_t graph_evictions() const { return graphs_.evictions(); }

 private:
  // Drops every graph when the memory they captured has moved since.
  void drop_stale();

  CudaOps& ops_;
  uint64_t memory_generation_;
  LruCache<std::vector<int64_t>, std::shared_ptr<DenoiseGraph>> graphs_;
};

}  // namespace alp::cuda
