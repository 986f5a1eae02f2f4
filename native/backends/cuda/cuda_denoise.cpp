#include "backends/cuda/cuda_denoise.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/denoise_update.hpp"
#include "core/error.hpp"
#include "model/expert.hpp"

namespace alp::cuda {

// Everything a captured loop reads or writes outside the weights and the KV cache.
struct DenoiseGraph {
  std::shared_ptr<DeviceArena> arena;    // the loop's activations, never shared with eager Values
  std::unique_ptr<HostStaging> staging;  // pinned source of the captured input() copies (t, rope tables)
  DeviceBuffer x;                        // diffusion state, updated in place
  PinnedBuffer host_x;                   // noise in, actions out
  GraphExec exec;
};

namespace {

void enqueue_loop(CudaOps& ops, const model::ModelConfig& cfg, DenoiseGraph& g, std::span<const model::ExpertLane> lanes) {
  const int64_t n = cfg.action_space.n_waypoints * static_cast<int64_t>(lanes.size()), dims = cfg.action_dims;
  const std::vector<float> ts = model::flow_time_steps(cfg.num_inference_steps);
  model::Value x = ops.wrap_device(g.x.as<float>(), {n, dims});
  for (int64_t i = 0; i < cfg.num_inference_steps; ++i) {
    const float t0 = ts[static_cast<size_t>(i)];
    model::Value t = ops.input("t", {1, 1}, std::span<const float>(&t0, 1));
    model::Value v = model::expert_velocity(ops, cfg, x, t, lanes);
    launch_euler_update(g.x.as<float>(), ops.device_data(v), ts[static_cast<size_t>(i) + 1] - t0, n * dims, ops.stream());
  }
}

}  // namespace

CudaDenoiser::CudaDenoiser(CudaOps& ops)
    : ops_(ops), memory_generation_(ops.memory_generation()), graphs_(ops.options().max_graphs) {}
CudaDenoiser::~CudaDenoiser() = default;

void CudaDenoiser::drop_stale() {
  if (memory_generation_ == ops_.memory_generation()) return;
  graphs_.clear();
  memory_generation_ = ops_.memory_generation();
}

std::vector<float> CudaDenoiser::denoise(const model::ModelConfig& cfg, std::span<const float> noise, int64_t offset,
                                         int64_t rope_delta) {
  const model::ExpertLane one{0, offset, rope_delta};
  return denoise(cfg, noise, std::span<const model::ExpertLane>(&one, 1));
}

std::vector<float> CudaDenoiser::denoise(const model::ModelConfig& cfg, std::span<const float> noise,
                                         std::span<const model::ExpertLane> lanes) {
  CudaOps& ops = ops_;
  if (lanes.empty()) fail(ErrorCode::InvalidInput, "denoise: no samples");
  const int64_t n = cfg.action_space.n_waypoints * cfg.action_dims * static_cast<int64_t>(lanes.size());
  if (static_cast<int64_t>(noise.size()) != n)
    fail(ErrorCode::InvalidInput, "denoise: noise has " + std::to_string(noise.size()) + " values, expected " + std::to_string(n));
  if (cfg.num_inference_steps < 1)
    fail(ErrorCode::InvalidInput, "denoise: num_inference_steps must be >= 1, got " + std::to_string(cfg.num_inference_steps));
  if (ops.capturing()) fail(ErrorCode::Internal, "cuda_denoise: called during another capture");
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);

  auto upload = [&](DenoiseGraph& g) {
    std::memcpy(g.host_x.get(), noise.data(), bytes);
    ALP_CUDA(cudaMemcpyAsync(g.x.get(), g.host_x.get(), bytes, cudaMemcpyHostToDevice, ops.stream()));
  };

  drop_stale();
  // Key: steps, the lanes' shared prefix, then (lane, offset, rope_delta) of every sample (the graph
  // bakes in each lane's cache reads and rope tables).
  std::vector<int64_t> key{cfg.num_inference_steps, ops.kv_shared()};
  for (const model::ExpertLane& l : lanes) key.insert(key.end(), {l.lane, l.offset, l.rope_delta});
  std::shared_ptr<DenoiseGraph> slot;
  if (auto* found = graphs_.find(key)) slot = *found;
  if (!slot) {
    auto g = std::make_shared<DenoiseGraph>();
    g->arena = std::make_shared<DeviceArena>(0, size_t(16) << 20);
    g->x = DeviceBuffer(bytes);
    g->host_x = PinnedBuffer(bytes);
    try {
      // Warm-up: the same work eagerly, so nothing is allocated or uploaded during the capture.
      HostStaging warm(size_t(1) << 16);
      upload(*g);
      {
        CudaOps::MemoryScope scope(ops, g->arena, &warm, false);
        enqueue_loop(ops, cfg, *g, lanes);
      }
      ops.synchronize();
      g->arena->reset();
      g->staging = std::make_unique<HostStaging>(std::max<size_t>(warm.demand(), 64));
      {
        CudaOps::MemoryScope scope(ops, g->arena, g->staging.get(), true);
        g->exec = GraphExec::capture(ops.stream(), [&] { enqueue_loop(ops, cfg, *g, lanes); });
      }
    } catch (...) {
      graphs_.erase(key);
      throw;
    }
    // The warm-up may itself have moved captured memory (GEMM scratch growth): the other graphs are
    // then stale, this one (captured after it) is not. Bounded: the least recently used loop (another
    // prompt length) is dropped when full.
    drop_stale();
    slot = graphs_.put(key, g);
  }
  DenoiseGraph& g = *slot;
  upload(g);
  g.exec.launch(ops.stream());
  ALP_CUDA(cudaMemcpyAsync(g.host_x.get(), g.x.get(), bytes, cudaMemcpyDeviceToHost, ops.stream()));
  ops.synchronize();
  const float* h = g.host_x.as<float>();
  return std::vector<float>(h, h + n);
}

}  // namespace alp::cuda
