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

// x [n_waypoints, action_dims] (the diffusion state), t [1, 1] flow time -> [n_waypoints, expert_hidden].
Value action_in_proj(Ops& ops, const ModelConfig& cfg, const Value& x, const Value& t);

// Velocity v [n_waypoints, action_dims] for the noisy actions x at flow time t. `offset` = index of
// <|traj_future_start|> + 1 (the backbone cache prefix read), action token j has rope position
// rope_delta + offset + j on all three M-RoPE axes.
Value expert_velocity(Ops& ops, const ModelConfig& cfg, const Value& x, const Value& t, int64_t offset,
                      int64_t rope_delta);

// FlowMatching._euler: time_steps = linspace(0, 1, steps + 1) (fp32, torch's two-sided formula),
// x <- x + (t_{i+1} - t_i) · v(x, t_i). Returns the fp32 time grid.
std::vector<float> flow_time_steps(int64_t steps);

// The whole Euler loop on the executor: `noise` [n_waypoints * action_dims] is x at t = 0.
// Returns the final x (host copy) [n_waypoints, action_dims].
// `before_step` (optional) runs before each Euler step; it may throw to stop the loop (abort).
std::vector<float> denoise(Ops& ops, const ModelConfig& cfg, std::span<const float> noise, int64_t offset,
                           int64_t rope_delta, const std::function<void()>& before_step = {});

// Fourier frequencies logspace(0, log10(max_freq), F/2) in fp32, as torch.logspace computes them.
std::vector<float> fourier_freqs(const ActionInProjConfig& a);

}  // namespace alp::model
