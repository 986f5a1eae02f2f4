#include "model/trajectory.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.hpp"

// Numerics note: the official code runs every least-squares solve in float32 (Cholesky of fp32
// normal equations). We solve the same normal equations in float64, so results agree with the
// official float64 run to ~1e-13 and with its float32 run only to float32 conditioning (v0 within
// 2e-6 m/s, integrated positions within 1.3e-5 m on the fixtures; see trajectory_test.cpp).

namespace alp::model {
namespace {

// Dense symmetric matrix, row-major, n x n. The systems here are at most 65 x 65.
struct SymMatrix {
  int n;
  std::vector<double> a;
  explicit SymMatrix(int n_) : n(n_), a(static_cast<size_t>(n_) * n_, 0.0) {}
  double& operator()(int i, int j) { return a[static_cast<size_t>(i) * n + j]; }
  double operator()(int i, int j) const { return a[static_cast<size_t>(i) * n + j]; }
};

// In-place Cholesky (lower) of `m`; false when `m` is not numerically positive definite,
// which is when torch.linalg.cholesky raises.
bool cholesky(SymMatrix& m) {
  for (int j = 0; j < m.n; ++j) {
    double d = m(j, j);
    for (int k = 0; k < j; ++k) d -= m(j, k) * m(j, k);
    if (!(d > 0.0)) return false;
    const double l = std::sqrt(d);
    m(j, j) = l;
    for (int i = j + 1; i < m.n; ++i) {
      double s = m(i, j);
      for (int k = 0; k < j; ++k) s -= m(i, k) * m(j, k);
      m(i, j) = s / l;
    }
  }
  return true;
}

std::vector<double> cholesky_solve(const SymMatrix& l, std::vector<double> b) {
  const int n = l.n;
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < i; ++k) b[i] -= l(i, k) * b[k];
    b[i] /= l(i, i);
  }
  for (int i = n - 1; i >= 0; --i) {
    for (int k = i + 1; k < n; ++k) b[i] -= l(k, i) * b[k];
    b[i] /= l(i, i);
  }
  return b;
}

// lam / dt^(2 order) * D^T D, D the order-th forward-difference operator on n unknowns: the
// official construct_DTD with one active order. The dt power makes lam a penalty on the physical
// derivative rather than on raw differences.
SymMatrix difference_penalty(int n, int order, double lam, double dt) {
  static const double kCoeff[4][4] = {{1, 0, 0, 0}, {-1, 1, 0, 0}, {-1, 2, -1, 0}, {-1, 3, -3, 1}};
  SymMatrix m(n);
  const double w = lam / std::pow(dt, 2 * order);
  for (int r = 0; r + order < n; ++r) {
    for (int i = 0; i <= order; ++i)
      for (int j = 0; j <= order; ++j) m(r + i, r + j) += w * kCoeff[order][i] * kCoeff[order][j];
  }
  return m;
}

// Trapezoid speed fit: rows (2t, 2t+1) say v_t u_t + v_{t+1} u_{t+1} = 2 dp_t / dt, u = (cos, sin).
// Returns A^T A (n+1 x n+1) and A^T b.
void trapezoid_normal_equations(std::span<const double> dx, std::span<const double> dy,
                                std::span<const double> theta, double dt, SymMatrix& ata,
                                std::vector<double>& atb) {
  const int n = static_cast<int>(dx.size());
  atb.assign(n + 1, 0.0);
  for (int t = 0; t < n; ++t) {
    const double c0 = std::cos(theta[t]), s0 = std::sin(theta[t]);
    const double c1 = std::cos(theta[t + 1]), s1 = std::sin(theta[t + 1]);
    const double gx = 2.0 / dt * dx[t], gy = 2.0 / dt * dy[t];
    ata(t, t) += c0 * c0 + s0 * s0;
    ata(t + 1, t + 1) += c1 * c1 + s1 * s1;
    ata(t, t + 1) += c0 * c1 + s0 * s1;
    ata(t + 1, t) += c0 * c1 + s0 * s1;
    atb[t] += c0 * gx + s0 * gy;
    atb[t + 1] += c1 * gx + s1 * gy;
  }
}

// Official solve_xs_eq_y: min sum (x_i s_i - y_i)^2 + lam/dt^4 |D2 x|^2 + ridge |x|^2. Like the
// official code, a failed factorisation retries with ten times the ridge.
std::vector<double> solve_scaled_fit(std::span<const double> s, std::span<const double> y, double lam,
                                     double ridge, double dt) {
  const int n = static_cast<int>(y.size());
  const SymMatrix smooth = difference_penalty(n, 2, lam, dt);
  std::vector<double> rhs(n);
  for (int i = 0; i < n; ++i) rhs[i] = s[i] * y[i];
  for (int attempt = 0; attempt < 12; ++attempt, ridge *= 10.0) {
    SymMatrix lhs = smooth;
    for (int i = 0; i < n; ++i) lhs(i, i) += s[i] * s[i] + ridge;
    if (cholesky(lhs)) return cholesky_solve(lhs, rhs);
  }
  fail(ErrorCode::Internal, "trajectory: regularised fit stayed singular after raising the ridge 12 times");
}

void check_rotation_finite(const Pose& p, const char* what, size_t i) {
  for (double v : p.R)
    require(std::isfinite(v), ErrorCode::InvalidInput,
            std::string(what) + "[" + std::to_string(i) + "].R has a non-finite entry");
  for (double v : p.p)
    require(std::isfinite(v), ErrorCode::InvalidInput,
            std::string(what) + "[" + std::to_string(i) + "].p has a non-finite entry");
}

void check_count(size_t got, int want, const char* what) {
  require(static_cast<int>(got) == want, ErrorCode::InvalidInput,
          std::string(what) + ": expected " + std::to_string(want) + " waypoints, got " + std::to_string(got));
}

}  // namespace

static double to_bf16(double v) {
  float f = static_cast<float>(v);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits += 0x7FFFu + ((bits >> 16) & 1u);  // round to nearest, ties to even (finite inputs)
  bits &= 0xFFFF0000u;
  std::memcpy(&f, &bits, 4);
  return f;
}

ActionSpaceConfig official_action_space_defaults() {
  ActionSpaceConfig c;
  c.accel_mean = 0.0;
  c.accel_std = 1.0;
  c.curvature_mean = 0.0;
  c.curvature_std = 1.0;
  c.curvature_min = -0.2;
  c.curvature_max = 0.2;
  return c;
}

ActionSpaceConfig with_bf16_stats(const ActionSpaceConfig& cfg) {
  ActionSpaceConfig out = cfg;
  out.accel_mean = to_bf16(cfg.accel_mean);
  out.accel_std = to_bf16(cfg.accel_std);
  out.curvature_mean = to_bf16(cfg.curvature_mean);
  out.curvature_std = to_bf16(cfg.curvature_std);
  return out;
}

std::vector<Pose> to_ego_frame(std::span<const Pose> poses) {
  require(!poses.empty(), ErrorCode::InvalidInput, "to_ego_frame: history is empty");
  const Pose& o = poses.back();
  std::vector<Pose> out(poses.size());
  for (size_t k = 0; k < poses.size(); ++k) {
    check_rotation_finite(poses[k], "history", k);
    const Pose& q = poses[k];
    Pose& r = out[k];
    r.t = q.t;
    const double d[3] = {q.p[0] - o.p[0], q.p[1] - o.p[1], q.p[2] - o.p[2]};
    for (int i = 0; i < 3; ++i) {
      r.p[i] = o.R[0 * 3 + i] * d[0] + o.R[1 * 3 + i] * d[1] + o.R[2 * 3 + i] * d[2];
      for (int j = 0; j < 3; ++j)
        r.R[i * 3 + j] = o.R[0 * 3 + i] * q.R[0 * 3 + j] + o.R[1 * 3 + i] * q.R[1 * 3 + j] + o.R[2 * 3 + i] * q.R[2 * 3 + j];
    }
  }
  return out;
}

double yaw_of(const Pose& pose) { return std::atan2(pose.R[3], pose.R[0]); }

std::vector<double> unwrap_angles(std::span<const double> yaw) {
  std::vector<double> out(yaw.begin(), yaw.end());
  double acc = yaw.empty() ? 0.0 : yaw[0];
  for (size_t i = 1; i < yaw.size(); ++i) {
    const double d = yaw[i] - yaw[i - 1];
    acc += std::atan2(std::sin(d), std::cos(d));
    out[i] = acc;
  }
  return out;
}

double estimate_v0(std::span<const Pose> history_ego, const ActionSpaceConfig& cfg) {
  const size_t m = history_ego.size();
  require(m >= 4, ErrorCode::InvalidInput,
          "estimate_v0: history needs at least 4 poses for the third-order smoother, got " + std::to_string(m));
  std::vector<double> yaw(m), dx(m - 1), dy(m - 1);
  for (size_t i = 0; i < m; ++i) {
    check_rotation_finite(history_ego[i], "history", i);
    yaw[i] = yaw_of(history_ego[i]);
  }
  const std::vector<double> theta = unwrap_angles(yaw);
  for (size_t i = 0; i + 1 < m; ++i) {
    dx[i] = history_ego[i + 1].p[0] - history_ego[i].p[0];
    dy[i] = history_ego[i + 1].p[1] - history_ego[i].p[1];
  }
  const int n = static_cast<int>(m);
  SymMatrix lhs = difference_penalty(n, 3, cfg.v_lambda, cfg.dt);
  std::vector<double> rhs;
  trapezoid_normal_equations(dx, dy, theta, cfg.dt, lhs, rhs);
  for (int i = 0; i < n; ++i) lhs(i, i) += cfg.v_ridge;
  require(cholesky(lhs), ErrorCode::InvalidInput, "estimate_v0: speed normal equations are not positive definite");
  return cholesky_solve(lhs, std::move(rhs)).back();
}

template <typename T>
static Controls denormalize_impl(std::span<const T> normalized, const ActionSpaceConfig& cfg) {
  require(normalized.size() == static_cast<size_t>(cfg.n_waypoints) * 2, ErrorCode::InvalidInput,
          "actions: expected " + std::to_string(cfg.n_waypoints * 2) + " values (n_waypoints x 2), got " +
              std::to_string(normalized.size()));
  Controls c;
  c.accel.resize(cfg.n_waypoints);
  c.curvature.resize(cfg.n_waypoints);
  for (int i = 0; i < cfg.n_waypoints; ++i) {
    c.accel[i] = static_cast<double>(normalized[2 * i]) * cfg.accel_std + cfg.accel_mean;
    c.curvature[i] = static_cast<double>(normalized[2 * i + 1]) * cfg.curvature_std + cfg.curvature_mean;
  }
  return c;
}

Controls denormalize_actions(std::span<const float> normalized, const ActionSpaceConfig& cfg) {
  return denormalize_impl(normalized, cfg);
}
Controls denormalize_actions(std::span<const double> normalized, const ActionSpaceConfig& cfg) {
  return denormalize_impl(normalized, cfg);
}

std::vector<double> normalize_controls(const Controls& c, const ActionSpaceConfig& cfg) {
  check_count(c.accel.size(), cfg.n_waypoints, "normalize_controls accel");
  check_count(c.curvature.size(), cfg.n_waypoints, "normalize_controls curvature");
  std::vector<double> out(2 * c.accel.size());
  for (size_t i = 0; i < c.accel.size(); ++i) {
    out[2 * i] = (c.accel[i] - cfg.accel_mean) / cfg.accel_std;
    out[2 * i + 1] = (c.curvature[i] - cfg.curvature_mean) / cfg.curvature_std;
  }
  return out;
}

bool actions_within_bounds(std::span<const double> normalized, const ActionSpaceConfig& cfg) {
  const Controls c = denormalize_actions(normalized, cfg);
  for (int i = 0; i < cfg.n_waypoints; ++i) {
    if (!(c.accel[i] >= cfg.accel_min && c.accel[i] <= cfg.accel_max)) return false;
    if (!(c.curvature[i] >= cfg.curvature_min && c.curvature[i] <= cfg.curvature_max)) return false;
  }
  return true;
}

std::vector<Pose> integrate(const Controls& c, double v0, const ActionSpaceConfig& cfg, double z0) {
  check_count(c.accel.size(), cfg.n_waypoints, "integrate accel");
  check_count(c.curvature.size(), cfg.n_waypoints, "integrate curvature");
  require(std::isfinite(v0), ErrorCode::InvalidInput, "integrate: v0 is not finite");
  const double dt = cfg.dt;
  std::vector<Pose> out(cfg.n_waypoints);
  double v = v0, th = 0.0, x = 0.0, y = 0.0;
  for (int i = 0; i < cfg.n_waypoints; ++i) {
    const double a = c.accel[i], k = c.curvature[i];
    // Exact yaw change of constant-accel motion along constant curvature over one step.
    const double th_next = th + k * v * dt + k * a * dt * dt * 0.5;
    const double v_next = v + a * dt;
    x += 0.5 * dt * (v * std::cos(th) + v_next * std::cos(th_next));
    y += 0.5 * dt * (v * std::sin(th) + v_next * std::sin(th_next));
    v = v_next;
    th = th_next;
    Pose& p = out[i];
    p.t = (i + 1) * dt;
    p.p[0] = x;
    p.p[1] = y;
    p.p[2] = z0;
    const double cs = std::cos(th), sn = std::sin(th);
    const double r[9] = {cs, -sn, 0.0, sn, cs, 0.0, 0.0, 0.0, 1.0};
    for (int j = 0; j < 9; ++j) p.R[j] = r[j];
  }
  return out;
}

std::vector<Pose> actions_to_poses(std::span<const float> normalized, double v0, const ActionSpaceConfig& cfg,
                                   double z0) {
  return integrate(denormalize_actions(normalized, cfg), v0, cfg, z0);
}

std::vector<double> poses_to_actions(std::span<const Pose> future, double v0, const ActionSpaceConfig& cfg) {
  check_count(future.size(), cfg.n_waypoints, "poses_to_actions");
  const int n = cfg.n_waypoints;
  const double dt = cfg.dt;
  for (size_t i = 0; i < future.size(); ++i) check_rotation_finite(future[i], "future", i);

  // 1. Smoothed yaw with yaw_0 = 0 pinned (official theta_smooth / solve_single_constraint): the
  //    unknowns are yaw_1..yaw_n, the penalty is built on n+1 values and the pinned one drops out
  //    of the right-hand side because it is zero.
  std::vector<double> yaw(n);
  for (int i = 0; i < n; ++i) yaw[i] = yaw_of(future[i]);
  const std::vector<double> target = unwrap_angles(yaw);
  const SymMatrix pen = difference_penalty(n + 1, 3, cfg.theta_lambda, dt);
  SymMatrix lhs(n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) lhs(i, j) = pen(i + 1, j + 1) + (i == j ? 1.0 + cfg.theta_ridge : 0.0);
  require(cholesky(lhs), ErrorCode::InvalidInput, "poses_to_actions: yaw smoothing system is not positive definite");
  const std::vector<double> yaw_fit = cholesky_solve(lhs, target);
  std::vector<double> theta(n + 1, 0.0);
  for (int i = 0; i < n; ++i) theta[i + 1] = yaw_fit[i];

  // 2. Speeds v_1..v_n by the trapezoid fit with v_0 = v0 moved to the right-hand side.
  std::vector<double> dx(n), dy(n);
  for (int i = 0; i < n; ++i) {
    dx[i] = future[i].p[0] - (i == 0 ? 0.0 : future[i - 1].p[0]);
    dy[i] = future[i].p[1] - (i == 0 ? 0.0 : future[i - 1].p[1]);
  }
  SymMatrix ata(n + 1);
  std::vector<double> atb;
  trapezoid_normal_equations(dx, dy, theta, dt, ata, atb);
  const SymMatrix vpen = difference_penalty(n + 1, 3, cfg.v_lambda, dt);
  SymMatrix vl(n);
  std::vector<double> vr(n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) vl(i, j) = ata(i + 1, j + 1) + vpen(i + 1, j + 1) + (i == j ? cfg.v_ridge : 0.0);
    vr[i] = atb[i + 1] - ata(i + 1, 0) * v0 - vpen(i + 1, 0) * v0;
  }
  require(cholesky(vl), ErrorCode::InvalidInput, "poses_to_actions: speed fit system is not positive definite");
  const std::vector<double> vfit = cholesky_solve(vl, vr);
  std::vector<double> v(n + 1);
  v[0] = v0;
  for (int i = 0; i < n; ++i) v[i + 1] = vfit[i];

  // 3. Acceleration and 4. curvature, each a regularised scaled fit.
  std::vector<double> ones(n, 1.0), dv(n), s(n), dtheta(n);
  for (int i = 0; i < n; ++i) dv[i] = (v[i + 1] - v[i]) / dt;
  const std::vector<double> accel = solve_scaled_fit(ones, dv, cfg.a_lambda, cfg.a_ridge, dt);
  for (int i = 0; i < n; ++i) {
    s[i] = dt * v[i] + dt * dt / 2.0 * accel[i];
    dtheta[i] = theta[i + 1] - theta[i];
  }
  Controls c;
  c.accel = accel;
  c.curvature = solve_scaled_fit(s, dtheta, cfg.kappa_lambda, cfg.kappa_ridge, dt);
  return normalize_controls(c, cfg);
}

Controls poses_to_controls_exact(std::span<const Pose> future, double v0, const ActionSpaceConfig& cfg) {
  check_count(future.size(), cfg.n_waypoints, "poses_to_controls_exact");
  const int n = cfg.n_waypoints;
  const double dt = cfg.dt;
  std::vector<double> yaw(n + 1, 0.0);
  for (int i = 0; i < n; ++i) {
    check_rotation_finite(future[i], "future", i);
    yaw[i + 1] = yaw_of(future[i]);
  }
  const std::vector<double> theta = unwrap_angles(yaw);
  Controls c;
  c.accel.resize(n);
  c.curvature.resize(n);
  double v = v0, px = 0.0, py = 0.0;
  for (int i = 0; i < n; ++i) {
    const double gx = 2.0 / dt * (future[i].p[0] - px), gy = 2.0 / dt * (future[i].p[1] - py);
    // Project the trapezoid identity g = v_i u_i + v_{i+1} u_{i+1} onto u_{i+1}.
    const double v_next = std::cos(theta[i + 1]) * gx + std::sin(theta[i + 1]) * gy - v * std::cos(theta[i + 1] - theta[i]);
    const double a = (v_next - v) / dt;
    const double arc = v * dt + a * dt * dt * 0.5;
    require(std::fabs(arc) > 1e-9, ErrorCode::InvalidInput,
            "poses_to_controls_exact: step " + std::to_string(i) + " has ~zero arc length (" + std::to_string(arc) +
                " m); curvature is undefined");
    c.accel[i] = a;
    c.curvature[i] = (theta[i + 1] - theta[i]) / arc;
    v = v_next;
    px = future[i].p[0];
    py = future[i].p[1];
  }
  return c;
}

}  // namespace alp::model
