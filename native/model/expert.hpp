#pragma once
// The action expert over Ops: action_in_proj (Fourier features -> MLP trunk -> LayerNorm), the
// expert's Qwen3 layers attending over backbone layer i's cache prefix [0, offset) plus the 64 action
// tokens (non-causal), expert.norm, action_out_proj; and the flow-matching Euler loop around it.
#include <functional>
#include <span>
#include <vector>

#include "model/config.hpp"
#include "model/ops.hpp"

namespace alp::model {

// x [L * n_waypoints, action_dims] (the diffusion state of L samples), t [1, 1] flow time
// -> [L * n_waypoints, expert_hidden] (every row is independent of the others).
Value action_in_proj(Ops& ops, const ModelConfig& cfg, const Value& x, const Value& t);

// One sample of a batched expert call: reasoning lane `lane`'s cache prefix [0, offset) and its rope
// delta (see expert_velocity).
struct ExpertLane {
  int64_t lane = 0;
  int64_t offset = 0;
  int64_t rope_delta = 0;
};

// Velocity v [n_waypoints, action_dims] for the noisy actions x at flow time t. `offset` = index of
// <|traj_future_start|> + 1 (the backbone cache prefix read), action token j has rope position
// rope_delta + offset + j on all three M-RoPE axes.
Value expert_velocity(Ops& ops, const ModelConfig& cfg, const Value& x, const Value& t, int64_t offset,
                      int64_t rope_delta);
// All samples at once: x [lanes.size() * n_waypoints, action_dims] (sample-major); every linear sees all
// the rows (M = 64 * lanes), attention runs per sample over its own (ragged) prefix. Rows of sample k
// equal expert_velocity() of lanes[k] alone.
Value expert_velocity(Ops& ops, const ModelConfig& cfg, const Value& x, const Value& t, std::span<const ExpertLane> lanes);

// FlowMatching._euler: time_steps = linspace(0, 1, steps + 1) (fp32, torch's two-sided formula),
// x <- x + (t_{i+1} - t_i) · v(x, t_i). Returns the fp32 time grid.
std::vector<float> flow_time_steps(int64_t steps);

// The whole Euler loop on the executor: `noise` [n_waypoints * action_dims] is x at t = 0.
// Returns the final x (host copy) [n_waypoints, action_dims].
// `before_step` (optional) runs before each Euler step; it may throw to stop the loop (abort).
std::vector<float> denoise(Ops& ops, const ModelConfig& cfg, std::span<const float> noise, int64_t offset,
                           int64_t rope_delta, const std::function<void()>& before_step = {});
// The loop for every sample of `lanes` at once (one expert_velocity per step); noise and the result are
// [lanes.size() * n_waypoints * action_dims], sample-major.
std::vector<float> denoise(Ops& ops, const ModelConfig& cfg, std::span<const float> noise, std::span<const ExpertLane> lanes,
                           const std::function<void()>& before_step = {});

// Fourier frequencies logspace(0, log10(max_freq), F/2) in fp32, as torch.logspace computes them.
std::vector<float> fourier_freqs(const ActionInProjConfig& a);

}  // namespace alp::model
