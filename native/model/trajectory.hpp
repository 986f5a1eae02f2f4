#pragma once
// Unicycle (acceleration, curvature) action space of Alpamayo 1: the maths that turns the action
// expert's 64 normalised (accel, curvature) pairs into 64 ego-frame poses, the t0 speed estimate
// from the ego history, and the inverse (poses -> actions) used to build training targets and to
// test the forward map. Everything is float64; see trajectory.cpp for where the official code runs
// fp32 and how large that difference is.
#include <array>
#include <span>
#include <vector>

namespace alp::model {

// Release values of the checkpoint's `action_space_cfg` (model-spec.md §4). The lead's config
// parser overwrites them from config.json; the bounds are only used by `actions_within_bounds`.
struct ActionSpaceConfig {
  double dt = 0.1;
  int n_waypoints = 64;
  double accel_mean = 0.02902694707164455;
  double accel_std = 0.6810426736454882;
  double curvature_mean = 0.0002692167976330542;
  double curvature_std = 0.026148280660833106;
  double accel_min = -9.8, accel_max = 9.8;
  double curvature_min = -0.33, curvature_max = 0.33;
  double v_lambda = 1e-6, v_ridge = 1e-4;
  double theta_lambda = 1e-6, theta_ridge = 1e-8;
  double a_lambda = 1e-4, a_ridge = 1e-4;
  double kappa_lambda = 1e-4, kappa_ridge = 1e-4;
};

// UnicycleAccelCurvatureActionSpace's constructor defaults (what a config key left out means there):
// mean 0, std 1, accel bounds +-9.8, curvature bounds +-0.2; the smoothing weights as above.
ActionSpaceConfig official_action_space_defaults();

// The official model is loaded with dtype=bfloat16, which (as HF sets the default dtype while
// building the model) most likely stores accel/curvature mean and std as bfloat16 buffers, e.g.
// accel_std 0.68104267 -> 0.6796875. Not verified against the checkpoint; when parity with the
// PyTorch runtime demands it, denormalise with this copy (round-to-nearest-even to bf16).
ActionSpaceConfig with_bf16_stats(const ActionSpaceConfig& cfg);

// t in seconds (relative to t0 for outputs), p = xyz in metres, R row-major 3x3 (body -> frame).
struct Pose {
  double t = 0.0;
  double p[3] = {0.0, 0.0, 0.0};
  double R[9] = {1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0};
};

// Physical controls, one pair per waypoint: accel in m/s^2, curvature in 1/m.
struct Controls {
  std::vector<double> accel;
  std::vector<double> curvature;
};

// Expresses a pose sequence in the frame of its LAST pose: p' = R_last^T (p - p_last),
// R' = R_last^T R. Times are kept. Throws InvalidInput on an empty sequence.
std::vector<Pose> to_ego_frame(std::span<const Pose> poses);

// yaw = atan2(R[1][0], R[0][0]) as in the official so3_to_yaw.
double yaw_of(const Pose& pose);

// Unwraps a yaw sequence so consecutive differences lie in [-pi, pi] (first value kept).
std::vector<double> unwrap_angles(std::span<const double> yaw);

// Speed at t0 from >= 4 ego-frame history poses (oldest first, last = t0): the official
// estimate_t0_states (trapezoid velocity least squares, third-order smoothness, ridge).
double estimate_v0(std::span<const Pose> history_ego, const ActionSpaceConfig& cfg);

// normalized: n_waypoints interleaved (a_hat, kappa_hat) pairs, exactly the expert's (64, 2) output.
Controls denormalize_actions(std::span<const float> normalized, const ActionSpaceConfig& cfg);
Controls denormalize_actions(std::span<const double> normalized, const ActionSpaceConfig& cfg);
// Inverse of denormalize_actions, interleaved (a_hat, kappa_hat).
std::vector<double> normalize_controls(const Controls& controls, const ActionSpaceConfig& cfg);

// True when every denormalised pair is inside [accel_min, accel_max] x [curvature_min, curvature_max].
bool actions_within_bounds(std::span<const double> normalized, const ActionSpaceConfig& cfg);

// Unicycle integration from x = y = yaw = 0 at speed v0 (official action_to_traj): returns
// n_waypoints poses at t = dt, 2dt, ...; z = z0 (the last history z, 0 in the t0 frame); R = Rz(yaw).
std::vector<Pose> integrate(const Controls& controls, double v0, const ActionSpaceConfig& cfg, double z0 = 0.0);

// denormalize_actions + integrate.
std::vector<Pose> actions_to_poses(std::span<const float> normalized, double v0, const ActionSpaceConfig& cfg,
                                   double z0 = 0.0);

// Official traj_to_action: future poses (t0 frame, n_waypoints) -> normalised actions (interleaved),
// by smoothing the yaw, a regularised trapezoid fit of the speeds (v[0] = v0), then regularised
// fits of accel and curvature. Because of the regularisation it is NOT an exact inverse of
// integrate (see trajectory_test.cpp for the measured round-trip error).
std::vector<double> poses_to_actions(std::span<const Pose> future, double v0, const ActionSpaceConfig& cfg);

// Exact algebraic inverse of integrate (no regularisation): recovers the speeds from the trapezoid
// rule along the known yaws, then accel = dv/dt and curvature = dyaw / (v dt + a dt^2 / 2). Throws
// InvalidInput where that arc length is ~0 (curvature undefined at standstill).
Controls poses_to_controls_exact(std::span<const Pose> future, double v0, const ActionSpaceConfig& cfg);

}  // namespace alp::model
