#pragma once
// The model configuration: config.json of the release (AlpamayoR1) plus, for the small test
// checkpoints, an embedded `vlm_config` (a Qwen3-VL config.json). Without `vlm_config` the built-in
// Qwen/Qwen3-VL-8B-Instruct values are used. Every missing or malformed field is
// Error(InvalidCheckpoint) naming the field.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "model/trajectory.hpp"

namespace alp::model {

// One stack of Qwen3 decoder layers (the backbone text model, or the action expert).
struct DecoderConfig {
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 5e6;
  std::array<int64_t, 3> mrope_section{};  // sums to head_dim / 2
  bool mrope_interleaved = true;
};

struct VisionConfig {
  int64_t depth = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_heads = 0;
  int64_t in_channels = 3;
  int64_t patch_size = 16;
  int64_t temporal_patch_size = 2;
  int64_t spatial_merge_size = 2;
  int64_t out_hidden_size = 0;
  int64_t num_position_embeddings = 0;
  std::vector<int64_t> deepstack_visual_indexes;
  double rope_theta = 10000.0;
  int64_t head_dim() const { return hidden_size / num_heads; }
  int64_t patch_dim() const { return in_channels * temporal_patch_size * patch_size * patch_size; }
  int64_t merge_unit() const { return spatial_merge_size * spatial_merge_size; }
};

struct ActionInProjConfig {
  int64_t hidden_size = 0;
  int64_t num_enc_layers = 2;
  int64_t num_fourier_feats = 20;
  double max_freq = 100.0;
  // The checkpoint's stored Fourier frequencies (model/buffers.hpp); empty: recomputed from max_freq.
  std::vector<float> freqs;
};


struct ModelConfig {
  DecoderConfig text;
  int64_t vocab_size = 0;
  VisionConfig vision;
  DecoderConfig expert;  // layers / kv heads / eps / rope inherited from text, expert_cfg overrides
  bool expert_non_causal_attention = true;
  ActionInProjConfig action_in_proj;
  ActionSpaceConfig action_space;
  int64_t action_dims = 2;  // (accel, curvature) per waypoint
  int64_t num_inference_steps = 10;

  int64_t traj_vocab_size = 4000;
  int64_t traj_token_start_idx = 0;
  int64_t tokens_per_history_traj = 16;
  int64_t tokens_per_future_traj = 64;
  int64_t min_pixels = 0, max_pixels = 0;
  int64_t hist_num_bins = 1000, future_num_bins = 3000;
  std::array<double, 3> hist_dims_min{-4, -4, -10}, hist_dims_max{4, 4, 10};

  int64_t image_token_id = 0, vision_start_token_id = 0, vision_end_token_id = 0;
  // "<|traj_future_start|>" -> id, for every special token known (config's special_token_ids /
  // traj_token_ids, else derived from traj_token_start_idx + traj_vocab_size and the key order).
  std::map<std::string, int64_t, std::less<>> special_token_ids;
  int64_t special_id(std::string_view content) const;  // throws InvalidCheckpoint when unknown
};

ModelConfig parse_model_config(const json::Value& config_json);

// A complete config.json (with `vlm_config`, `special_token_ids`, `traj_token_start_idx`) for the
// "tiny" (~1M params, 64x128 images) or "small" (~20M params, 128x224 images) test checkpoints.
json::Value preset_config(std::string_view preset);

// The Qwen/Qwen3-VL-8B-Instruct config.json used when the release config has no `vlm_config`.
json::Value builtin_qwen3_vl_8b_config();

}  // namespace alp::model
