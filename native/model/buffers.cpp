#include "model/buffers.hpp"

#include <cmath>
#include <optional>

#include "core/error.hpp"
#include "model/expert.hpp"

namespace alp::model {
namespace {

constexpr const char* kStats[4] = {"accel_mean", "accel_std", "curvature_mean", "curvature_std"};

double* stat_field(ActionSpaceConfig& a, int i) {
  double* fields[4] = {&a.accel_mean, &a.accel_std, &a.curvature_mean, &a.curvature_std};
  return fields[i];
}

std::vector<std::string> freq_names(const ModelConfig& cfg) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < cfg.action_dims; ++i) names.push_back("action_in_proj.sinus." + std::to_string(i) + ".freqs");
  names.push_back("action_in_proj.timestep_fourier_encoder.freqs");
  return names;
}

std::vector<float> read_buffer(const Checkpoint& ckpt, const std::string& name, int64_t numel) {
  const Tensor t = ckpt.tensor(name);
  if (t.dtype() != DType::F32 && t.dtype() != DType::BF16 && t.dtype() != DType::F16)
    fail(ErrorCode::InvalidCheckpoint, "tensor '" + name + "': dtype " + std::string(dtype_name(t.dtype())) +
                                           ", expected F32, BF16 or F16 (a persistent buffer)");
  if (shape_numel(t.shape()) != numel)
    fail(ErrorCode::InvalidCheckpoint, "tensor '" + name + "' has shape " + shape_str(t.shape()) + ", expected " +
                                           std::to_string(numel) + " value(s) (config.json)");
  std::vector<float> v = t.to_f32();
  for (float x : v)
    if (!std::isfinite(x)) fail(ErrorCode::InvalidCheckpoint, "tensor '" + name + "': non-finite value");
  return v;
}

}  // namespace

std::vector<BufferSpec> buffer_specs(const ModelConfig& cfg) {
  std::vector<BufferSpec> out;
  for (const std::string& n : freq_names(cfg)) out.push_back({n, {1, cfg.action_in_proj.num_fourier_feats / 2}});
  for (const char* s : kStats) out.push_back({std::string("action_space.") + s, {}});
  return out;
}

std::vector<float> buffer_values(const ModelConfig& cfg, const BufferSpec& spec) {
  if (spec.name.ends_with(".freqs")) return fourier_freqs(cfg.action_in_proj);
  ActionSpaceConfig a = cfg.action_space;
  for (int i = 0; i < 4; ++i)
    if (spec.name == std::string("action_space.") + kStats[i]) return {static_cast<float>(*stat_field(a, i))};
  fail(ErrorCode::Internal, "buffer_values: unknown buffer " + spec.name);
}

void apply_checkpoint_buffers(ModelConfig& cfg, const Checkpoint& ckpt) {
  const int64_t half = cfg.action_in_proj.num_fourier_feats / 2;
  std::optional<std::vector<float>> freqs;
  std::string first;
  for (const std::string& n : freq_names(cfg)) {
    if (!ckpt.has(n)) continue;
    std::vector<float> f = read_buffer(ckpt, n, half);
    if (freqs && *freqs != f)
      fail(ErrorCode::InvalidCheckpoint, "tensor '" + n + "' differs from '" + first +
                                             "': every Fourier encoder must use the same frequencies");
    if (!freqs) first = n;
    freqs = std::move(f);
  }
  if (freqs) cfg.action_in_proj.freqs = std::move(*freqs);
  for (int i = 0; i < 4; ++i) {
    const std::string n = std::string("action_space.") + kStats[i];
    if (!ckpt.has(n)) continue;
    const float v = read_buffer(ckpt, n, 1)[0];
    if (i % 2 == 1 && !(v > 0.0f)) fail(ErrorCode::InvalidCheckpoint, "tensor '" + n + "': expected > 0, got " + std::to_string(v));
    *stat_field(cfg.action_space, i) = static_cast<double>(v);
  }
}

ModelConfig load_model_config(const Checkpoint& ckpt) {
  ModelConfig cfg = parse_model_config(ckpt.config());
  apply_checkpoint_buffers(cfg, ckpt);
  return cfg;
}

}  // namespace alp::model
