#pragma once
// The official model's persistent buffers: the Fourier frequencies of action_in_proj
// (`action_in_proj.sinus.<i>.freqs`, `action_in_proj.timestep_fourier_encoder.freqs`, [1, F/2]) and the
// action space's normalisation (`action_space.{accel,curvature}_{mean,std}`, scalars). A checkpoint saved
// from the official code holds them in its save dtype (bf16 for the release), and the official model
// computes with those stored values, so they win over the values recomputed from config.json.
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/tensor.hpp"
#include "model/config.hpp"

namespace alp::model {

struct BufferSpec {
  std::string name;
  Shape shape;
};

// Every buffer the official model registers for `cfg`, with its official shape.
std::vector<BufferSpec> buffer_specs(const ModelConfig& cfg);

// Values of buffer_specs(cfg) as the official constructors compute them (fp32 freqs, config stats).
std::vector<float> buffer_values(const ModelConfig& cfg, const BufferSpec& spec);

// Replaces the recomputed values in `cfg` with the buffers `ckpt` stores (each optional, widened from
// its stored dtype). InvalidCheckpoint on a wrong shape or dtype, a non-finite or non-positive std, or
// Fourier encoders whose stored frequencies differ (one frequency set serves all three here).
void apply_checkpoint_buffers(ModelConfig& cfg, const Checkpoint& ckpt);

// parse_model_config(ckpt.config()) + apply_checkpoint_buffers: the configuration a checkpoint runs with.
ModelConfig load_model_config(const Checkpoint& ckpt);

}  // namespace alp::model
