#include "model/config.hpp"

#include <cmath>
#include <initializer_list>
#include <numbers>
#include <tuple>
#include <utility>

#include "core/error.hpp"
#include "model/token_layout.hpp"

namespace alp::model {
namespace {

using json::Value;

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  fail(ErrorCode::InvalidCheckpoint, "config.json: " + path + ": " + what);
}

const Value& need(const Value& obj, std::string_view key, const std::string& path) {
  const Value* v = obj.find(key);
  if (!v) bad(path + std::string(key), "missing field");
  return *v;
}

int64_t get_int(const Value& obj, std::string_view key, const std::string& path) {
  const Value& v = need(obj, key, path);
  if (!v.is_number() || v.as_number() != std::floor(v.as_number()))
    bad(path + std::string(key), "expected an integer");
  return static_cast<int64_t>(v.as_number());
}
int64_t get_int_or(const Value& obj, std::string_view key, const std::string& path, int64_t dflt) {
  return obj.find(key) ? get_int(obj, key, path) : dflt;
}
int64_t get_positive(const Value& obj, std::string_view key, const std::string& path) {
  int64_t v = get_int(obj, key, path);
  if (v <= 0) bad(path + std::string(key), "expected > 0, got " + std::to_string(v));
  return v;
}
int64_t get_positive_or(const Value& obj, std::string_view key, const std::string& path, int64_t dflt) {
  return obj.find(key) ? get_positive(obj, key, path) : dflt;
}
double get_num_or(const Value& obj, std::string_view key, const std::string& path, double dflt) {
  const Value* v = obj.find(key);
  if (!v || v->is_null()) return dflt;
  if (!v->is_number()) bad(path + std::string(key), "expected a number");
  return v->as_number();
}
bool get_bool_or(const Value& obj, std::string_view key, const std::string& path, bool dflt) {
  const Value* v = obj.find(key);
  if (!v || v->is_null()) return dflt;
  if (!v->is_bool()) bad(path + std::string(key), "expected a boolean");
  return v->as_bool();
}
const Value& get_obj(const Value& obj, std::string_view key, const std::string& path) {
  const Value& v = need(obj, key, path);
  if (!v.is_object()) bad(path + std::string(key), "expected an object");
  return v;
}
std::vector<int64_t> get_int_list(const Value& obj, std::string_view key, const std::string& path) {
  const Value& v = need(obj, key, path);
  if (!v.is_array()) bad(path + std::string(key), "expected an array of integers");
  std::vector<int64_t> out;
  for (const Value& e : v.as_array()) {
    if (!e.is_number() || e.as_number() != std::floor(e.as_number()))
      bad(path + std::string(key), "expected an array of integers");
    out.push_back(static_cast<int64_t>(e.as_number()));
  }
  return out;
}

// Every *_cfg is hydra-instantiated by the official code: `_target_` names the class and every other key
// is a constructor argument. A key the class does not take would make instantiate() fail there, so it is
// rejected here too (naming the accepted ones) instead of being silently ignored.
void check_hydra_cfg(const Value& obj, const std::string& path, std::string_view cls,
                     std::initializer_list<std::string_view> args) {
  if (const Value* t = obj.find("_target_")) {
    const std::string want = "." + std::string(cls);
    if (!t->is_string() || t->as_string().size() < want.size() ||
        t->as_string().compare(t->as_string().size() - want.size(), want.size(), want) != 0)
      bad(path + "_target_", "expected a class path ending in '" + want + "'");
  }
  for (const auto& [key, value] : obj.as_object()) {
    if (key == "_target_" || key == "_recursive_" || key == "_convert_") continue;
    bool known = false;
    for (std::string_view a : args) known = known || key == a;
    if (!known) {
      std::string list;
      for (std::string_view a : args) list += (list.empty() ? "" : ", ") + std::string(a);
      bad(path + key, "not an argument of " + std::string(cls) + " (takes " + list + ")");
    }
  }
}

std::array<double, 3> get_vec3_or(const Value& obj, std::string_view key, const std::string& path, std::array<double, 3> dflt) {
  const Value* v = obj.find(key);
  if (!v || v->is_null()) return dflt;
  if (!v->is_array() || v->as_array().size() != 3) bad(path + std::string(key), "expected 3 numbers");
  std::array<double, 3> out{};
  for (size_t i = 0; i < 3; ++i) {
    const Value& e = v->as_array()[i];
    if (!e.is_number() || !std::isfinite(e.as_number())) bad(path + std::string(key), "expected 3 finite numbers");
    out[i] = e.as_number();
  }
  return out;
}

std::pair<double, double> get_pair_or(const Value& obj, std::string_view key, const std::string& path, std::pair<double, double> dflt) {
  const Value* v = obj.find(key);
  if (!v || v->is_null()) return dflt;
  if (!v->is_array() || v->as_array().size() != 2 || !v->as_array()[0].is_number() || !v->as_array()[1].is_number() ||
      !(v->as_array()[0].as_number() <= v->as_array()[1].as_number()))
    bad(path + std::string(key), "expected [min, max] with min <= max");
  return {v->as_array()[0].as_number(), v->as_array()[1].as_number()};
}

// DeltaTrajectoryTokenizer(ego_xyz_min, ego_xyz_max, ego_yaw_min, ego_yaw_max, num_bins, predict_yaw,
// load_weights), with the constructor's defaults.
struct DeltaTokenizerArgs {
  std::array<double, 3> xyz_min{-4, -4, -10}, xyz_max{4, 4, 10};
  int64_t num_bins = 1000;
};
DeltaTokenizerArgs parse_delta_tokenizer(const Value& h, const std::string& p) {
  check_hydra_cfg(h, p, "DeltaTrajectoryTokenizer",
                  {"ego_xyz_min", "ego_xyz_max", "ego_yaw_min", "ego_yaw_max", "num_bins", "predict_yaw", "load_weights"});
  DeltaTokenizerArgs a;
  a.xyz_min = get_vec3_or(h, "ego_xyz_min", p, a.xyz_min);
  a.xyz_max = get_vec3_or(h, "ego_xyz_max", p, a.xyz_max);
  for (size_t i = 0; i < 3; ++i)
    if (!(a.xyz_min[i] < a.xyz_max[i])) bad(p + "ego_xyz_max", "expected every entry > ego_xyz_min's");
  // Yaw bounds only matter with predict_yaw; they must still be a usable range.
  const double yaw_min = get_num_or(h, "ego_yaw_min", p, -std::numbers::pi), yaw_max = get_num_or(h, "ego_yaw_max", p, std::numbers::pi);
  if (!(yaw_min < yaw_max)) bad(p + "ego_yaw_max", "expected > ego_yaw_min");
  // predict_yaw adds a 4th token per pose; the prompt has 3 per pose (48 <|traj_history|> slots).
  if (get_bool_or(h, "predict_yaw", p, false)) bad(p + "predict_yaw", "true is not supported (the prompt holds x, y, z tokens only)");
  a.num_bins = get_positive_or(h, "num_bins", p, a.num_bins);
  if (a.num_bins < 2) bad(p + "num_bins", "expected >= 2");
  return a;
}

DecoderConfig parse_text(const Value& t, const std::string& p) {
  DecoderConfig d;
  d.hidden_size = get_positive(t, "hidden_size", p);
  d.intermediate_size = get_positive(t, "intermediate_size", p);
  d.num_layers = get_positive(t, "num_hidden_layers", p);
  d.num_heads = get_positive(t, "num_attention_heads", p);
  // Positive: the head counts are divided by each other below (0 was a SIGFPE through Planner.load).
  d.num_kv_heads = get_positive_or(t, "num_key_value_heads", p, d.num_heads);
  d.head_dim = t.find("head_dim") ? get_positive(t, "head_dim", p) : d.hidden_size / d.num_heads;
  d.rms_norm_eps = get_num_or(t, "rms_norm_eps", p, 1e-6);
  if (get_bool_or(t, "attention_bias", p, false)) bad(p + "attention_bias", "expected false (Qwen3 has no q/k/v/o bias)");
  if (const Value* act = t.find("hidden_act"); act && (!act->is_string() || act->as_string() != "silu"))
    bad(p + "hidden_act", "expected \"silu\"");
  // transformers 5 writes rope_parameters; older Qwen3-VL files write rope_scaling + rope_theta.
  const Value* rope = t.find("rope_parameters");
  std::string rp = p + "rope_parameters.";
  if (!rope || rope->is_null()) {
    rope = t.find("rope_scaling");
    rp = p + "rope_scaling.";
  }
  d.rope_theta = get_num_or(t, "rope_theta", p, 5e6);
  std::vector<int64_t> sec = {24, 20, 20};
  if (rope && rope->is_object()) {
    d.rope_theta = get_num_or(*rope, "rope_theta", rp, d.rope_theta);
    if (rope->find("mrope_section")) sec = get_int_list(*rope, "mrope_section", rp);
    d.mrope_interleaved = get_bool_or(*rope, "mrope_interleaved", rp, true);
    if (const Value* ty = rope->find("rope_type"); ty && ty->is_string() && ty->as_string() != "default")
      bad(rp + "rope_type", "expected \"default\", got \"" + ty->as_string() + "\"");
  }
  if (sec.size() != 3) bad(rp + "mrope_section", "expected 3 entries, got " + std::to_string(sec.size()));
  d.mrope_section = {sec[0], sec[1], sec[2]};
  if (sec[0] + sec[1] + sec[2] != d.head_dim / 2)
    bad(rp + "mrope_section", "entries must sum to head_dim/2 = " + std::to_string(d.head_dim / 2));
  if (!d.mrope_interleaved) bad(rp + "mrope_interleaved", "only interleaved M-RoPE (Qwen3-VL) is supported");
  if (d.head_dim % 2 || d.num_heads % d.num_kv_heads)
    bad(p + "num_attention_heads", "must be a multiple of num_key_value_heads with an even head_dim");
  return d;
}

VisionConfig parse_vision(const Value& v, const std::string& p) {
  VisionConfig c;
  c.depth = get_positive(v, "depth", p);
  c.hidden_size = get_positive(v, "hidden_size", p);
  c.intermediate_size = get_positive(v, "intermediate_size", p);
  c.num_heads = get_positive(v, "num_heads", p);
  c.in_channels = get_int_or(v, "in_channels", p, 3);
  c.patch_size = get_positive(v, "patch_size", p);
  c.temporal_patch_size = get_positive(v, "temporal_patch_size", p);
  c.spatial_merge_size = get_positive(v, "spatial_merge_size", p);
  c.out_hidden_size = get_positive(v, "out_hidden_size", p);
  c.num_position_embeddings = get_positive(v, "num_position_embeddings", p);
  c.deepstack_visual_indexes = get_int_list(v, "deepstack_visual_indexes", p);
  for (int64_t i : c.deepstack_visual_indexes)
    if (i < 0 || i >= c.depth) bad(p + "deepstack_visual_indexes", "index " + std::to_string(i) + " outside [0, depth)");
  if (const Value* act = v.find("hidden_act"); act && (!act->is_string() || act->as_string() != "gelu_pytorch_tanh"))
    bad(p + "hidden_act", "expected \"gelu_pytorch_tanh\"");
  if (const Value* rope = v.find("rope_parameters"); rope && rope->is_object())
    c.rope_theta = get_num_or(*rope, "rope_theta", p + "rope_parameters.", 10000.0);
  const int64_t side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(c.num_position_embeddings))));
  if (side * side != c.num_position_embeddings) bad(p + "num_position_embeddings", "expected a square number");
  if (c.hidden_size % c.num_heads || (c.hidden_size / c.num_heads) % 4)
    bad(p + "num_heads", "hidden_size/num_heads must be a multiple of 4 (2-D rotary)");
  return c;
}

}  // namespace

int64_t ModelConfig::special_id(std::string_view content) const {
  auto it = special_token_ids.find(content);
  if (it == special_token_ids.end()) fail(ErrorCode::InvalidCheckpoint, "config.json: no id for special token " + std::string(content));
  return it->second;
}

ModelConfig parse_model_config(const json::Value& root) {
  if (!root.is_object()) bad("<root>", "expected an object");
  ModelConfig c;
  const Value builtin = builtin_qwen3_vl_8b_config();
  const Value* vlm = root.find("vlm_config");
  std::string vp = "vlm_config.";
  if (!vlm || vlm->is_null()) {
    vlm = &builtin;
    vp = "<built-in Qwen3-VL-8B>.";
  } else if (!vlm->is_object()) {
    bad("vlm_config", "expected an object");
  }
  const Value& text = get_obj(*vlm, "text_config", vp);
  c.text = parse_text(text, vp + "text_config.");
  c.vision = parse_vision(get_obj(*vlm, "vision_config", vp), vp + "vision_config.");
  if (c.vision.out_hidden_size != c.text.hidden_size)
    bad(vp + "vision_config.out_hidden_size", "expected text hidden_size " + std::to_string(c.text.hidden_size) +
                                                  ", got " + std::to_string(c.vision.out_hidden_size));
  c.image_token_id = get_int_or(*vlm, "image_token_id", vp, 151655);
  c.vision_start_token_id = get_int_or(*vlm, "vision_start_token_id", vp, 151652);
  c.vision_end_token_id = get_int_or(*vlm, "vision_end_token_id", vp, 151653);
  if (get_bool_or(*vlm, "tie_word_embeddings", vp, false)) bad(vp + "tie_word_embeddings", "expected false (separate lm_head)");

  // The release resizes the embeddings to the extended tokenizer: the top-level vocab_size wins.
  c.vocab_size = root.find("vocab_size") ? get_positive(root, "vocab_size", "") : get_positive(text, "vocab_size", vp + "text_config.");

  c.expert = c.text;
  const Value& ex = get_obj(root, "expert_cfg", "");
  c.expert.hidden_size = get_int_or(ex, "hidden_size", "expert_cfg.", c.text.hidden_size);
  c.expert.intermediate_size = get_int_or(ex, "intermediate_size", "expert_cfg.", c.text.intermediate_size);
  c.expert.num_heads = get_positive_or(ex, "num_attention_heads", "expert_cfg.", c.text.num_heads);
  c.expert.head_dim = get_int_or(ex, "head_dim", "expert_cfg.", c.text.head_dim);
  c.expert.num_layers = get_int_or(ex, "num_hidden_layers", "expert_cfg.", c.text.num_layers);
  c.expert.num_kv_heads = get_positive_or(ex, "num_key_value_heads", "expert_cfg.", c.text.num_kv_heads);
  // The expert attends over the backbone's cached K/V of the same layer index.
  if (c.expert.num_kv_heads != c.text.num_kv_heads || c.expert.head_dim != c.text.head_dim)
    bad("expert_cfg.head_dim", "expert KV heads x head_dim must equal the backbone's (" + std::to_string(c.text.num_kv_heads) +
                                   " x " + std::to_string(c.text.head_dim) + ")");
  if (c.expert.num_layers > c.text.num_layers) bad("expert_cfg.num_hidden_layers", "more expert layers than backbone layers");
  if (c.expert.num_heads % c.expert.num_kv_heads) bad("expert_cfg.num_attention_heads", "must be a multiple of num_key_value_heads");
  c.expert_non_causal_attention = get_bool_or(root, "expert_non_causal_attention", "", true);

  // PerWaypointActionInProjV2(in_dims, out_dim, num_enc_layers=4, hidden_size=1024, max_freq=100.0,
  // num_fourier_feats=20); in_dims and out_dim are passed by the model, not the config.
  const Value& aip = get_obj(root, "action_in_proj_cfg", "");
  check_hydra_cfg(aip, "action_in_proj_cfg.", "PerWaypointActionInProjV2", {"num_enc_layers", "hidden_size", "max_freq", "num_fourier_feats"});
  c.action_in_proj.hidden_size = get_positive_or(aip, "hidden_size", "action_in_proj_cfg.", 1024);
  c.action_in_proj.num_enc_layers = get_int_or(aip, "num_enc_layers", "action_in_proj_cfg.", 4);
  c.action_in_proj.num_fourier_feats = get_int_or(aip, "num_fourier_feats", "action_in_proj_cfg.", 20);
  c.action_in_proj.max_freq = get_num_or(aip, "max_freq", "action_in_proj_cfg.", 100.0);
  if (c.action_in_proj.num_enc_layers < 1) bad("action_in_proj_cfg.num_enc_layers", "expected >= 1");
  if (c.action_in_proj.num_fourier_feats < 2 || c.action_in_proj.num_fourier_feats % 2)
    bad("action_in_proj_cfg.num_fourier_feats", "expected an even number >= 2");
  if (!(c.action_in_proj.max_freq > 0) || !std::isfinite(c.action_in_proj.max_freq))
    bad("action_in_proj_cfg.max_freq", "expected a positive number");

  // torch.nn.Linear(in_features, out_features, bias=True): the sizes come from the model; the stored
  // action_out_proj.bias is read, so bias=false cannot be honoured.
  if (const Value* o = root.find("action_out_proj_cfg"); o && o->is_object()) {
    check_hydra_cfg(*o, "action_out_proj_cfg.", "Linear", {"bias", "device", "dtype"});
    if (!get_bool_or(*o, "bias", "action_out_proj_cfg.", true)) bad("action_out_proj_cfg.bias", "false is not supported (a bias is read)");
  }

  // FlowMatching(int_method="euler", train_timestep_sampler, num_inference_steps=10,
  // train_ignore_guidance_rate, inference_guidance_weight, **kwargs): only Euler sampling exists.
  if (const Value* d = root.find("diffusion_cfg"); d && d->is_object()) {
    if (const Value* t = d->find("_target_"); t && (!t->is_string() || !t->as_string().ends_with(".FlowMatching")))
      bad("diffusion_cfg._target_", "expected a class path ending in '.FlowMatching'");
    c.num_inference_steps = get_int_or(*d, "num_inference_steps", "diffusion_cfg.", 10);
    if (const Value* m = d->find("int_method"); m && (!m->is_string() || m->as_string() != "euler"))
      bad("diffusion_cfg.int_method", "expected \"euler\" (the only integrator)");
  }
  if (c.num_inference_steps < 1) bad("diffusion_cfg.num_inference_steps", "expected >= 1");
  if (const Value* a = root.find("action_space_cfg"); a && a->is_object()) {
    const std::string ap = "action_space_cfg.";
    check_hydra_cfg(*a, ap, "UnicycleAccelCurvatureActionSpace",
                    {"accel_mean", "accel_std", "curvature_mean", "curvature_std", "accel_bounds", "curvature_bounds", "dt",
                     "n_waypoints", "theta_lambda", "theta_ridge", "v_lambda", "v_ridge", "a_lambda", "a_ridge",
                     "kappa_lambda", "kappa_ridge"});
    // An absent key takes the official constructor's default (mean 0, std 1, bounds +-9.8 / +-0.2), as
    // hydra would; a config without action_space_cfg at all keeps the release values.
    auto& as = c.action_space;
    as = official_action_space_defaults();
    as.dt = get_num_or(*a, "dt", ap, as.dt);
    as.n_waypoints = static_cast<int>(get_int_or(*a, "n_waypoints", ap, as.n_waypoints));
    for (auto [key, field] : {std::pair{"accel_mean", &as.accel_mean}, {"accel_std", &as.accel_std},
                              {"curvature_mean", &as.curvature_mean}, {"curvature_std", &as.curvature_std},
                              {"v_lambda", &as.v_lambda}, {"v_ridge", &as.v_ridge}, {"theta_lambda", &as.theta_lambda},
                              {"theta_ridge", &as.theta_ridge}, {"a_lambda", &as.a_lambda}, {"a_ridge", &as.a_ridge},
                              {"kappa_lambda", &as.kappa_lambda}, {"kappa_ridge", &as.kappa_ridge}})
      *field = get_num_or(*a, key, ap, *field);
    std::tie(as.accel_min, as.accel_max) = get_pair_or(*a, "accel_bounds", ap, {as.accel_min, as.accel_max});
    std::tie(as.curvature_min, as.curvature_max) = get_pair_or(*a, "curvature_bounds", ap, {as.curvature_min, as.curvature_max});
    if (!(as.dt > 0) || as.n_waypoints < 1 || !(as.accel_std > 0) || !(as.curvature_std > 0))
      bad("action_space_cfg", "expected dt > 0, n_waypoints >= 1 and positive accel_std/curvature_std");
  }
  c.traj_vocab_size = get_positive(root, "traj_vocab_size", "");
  c.traj_token_start_idx = get_positive(root, "traj_token_start_idx", "");
  c.tokens_per_history_traj = get_int_or(root, "tokens_per_history_traj", "", 16);
  c.tokens_per_future_traj = get_int_or(root, "tokens_per_future_traj", "", 64);
  if (c.tokens_per_history_traj < 1) bad("tokens_per_history_traj", "expected >= 1");
  if (c.tokens_per_future_traj < 1) bad("tokens_per_future_traj", "expected >= 1");
  c.min_pixels = get_num_or(root, "min_pixels", "", 163840);
  c.max_pixels = get_num_or(root, "max_pixels", "", 196608);
  if (const Value* h = root.find("hist_traj_tokenizer_cfg"); h && h->is_object()) {
    const DeltaTokenizerArgs a = parse_delta_tokenizer(*h, "hist_traj_tokenizer_cfg.");
    c.hist_num_bins = a.num_bins;
    c.hist_dims_min = a.xyz_min;
    c.hist_dims_max = a.xyz_max;
  }
  // Only the future tokenizer's vocabulary size (its num_bins) is used: history ids start after it. The
  // release's class is not pinned down, so another _target_ only has its num_bins read.
  if (const Value* f = root.find("traj_tokenizer_cfg"); f && f->is_object()) {
    const Value* t = f->find("_target_");
    if (!t || (t->is_string() && t->as_string().ends_with(".DeltaTrajectoryTokenizer")))
      c.future_num_bins = parse_delta_tokenizer(*f, "traj_tokenizer_cfg.").num_bins;
    else
      c.future_num_bins = get_positive(*f, "num_bins", "traj_tokenizer_cfg.");
  }
  if (c.future_num_bins + c.hist_num_bins > c.traj_vocab_size)
    bad("traj_vocab_size", "expected >= traj_tokenizer_cfg.num_bins + hist_traj_tokenizer_cfg.num_bins (" +
                               std::to_string(c.future_num_bins + c.hist_num_bins) + ")");

  // Special token ids: derived from the add order (what the release tokenizer does), then overridden
  // by whatever the config states explicitly.
  int64_t id = c.traj_token_start_idx + c.traj_vocab_size;
  for (auto k : alpamayo_special_keys()) {
    const std::string content = "<|" + std::string(k) + "|>";
    if (content == "<|image_pad|>") continue;  // already a Qwen token (see token_layout.hpp)
    c.special_token_ids[content] = id++;
  }
  c.special_token_ids["<|image_pad|>"] = c.image_token_id;
  c.special_token_ids["<|vision_start|>"] = c.vision_start_token_id;
  c.special_token_ids["<|vision_end|>"] = c.vision_end_token_id;
  if (const Value* t = root.find("traj_token_ids"); t && t->is_object())
    for (const auto& [k, v] : t->as_object())
      c.special_token_ids["<|traj_" + k + "|>"] = get_int(*t, k, "traj_token_ids.");
  if (const Value* s = root.find("special_token_ids"); s && s->is_object())
    for (const auto& [k, v] : s->as_object()) c.special_token_ids[k] = get_int(*s, k, "special_token_ids.");
  return c;
}

}  // namespace alp::model
