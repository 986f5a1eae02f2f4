// Config presets: the built-in Qwen3-VL-8B vlm_config and the tiny/small test checkpoint configs.
#include <vector>

#include "core/error.hpp"
#include "model/config.hpp"
#include "model/token_layout.hpp"

namespace alp::model {
namespace {

using json::Array;
using json::Object;
using json::Value;

Array ints(const std::vector<int64_t>& v) {
  Array a;
  for (int64_t x : v) a.emplace_back(x);
  return a;
}

struct Dims {
  int64_t text_hidden, text_inter, text_layers, text_heads, text_kv, text_head_dim;
  std::vector<int64_t> mrope;
  int64_t vis_depth, vis_hidden, vis_inter, vis_heads, vis_patch, vis_pos;
  std::vector<int64_t> deepstack;
  int64_t ex_hidden, ex_inter, ex_heads, aip_hidden;
  int64_t min_pixels, max_pixels;
  int64_t vocab, image_id, vstart_id, vend_id;
  int64_t ex_layers = 0;  // expert_cfg.num_hidden_layers; 0: inherit the backbone's (the release)
};

Object vlm_config(const Dims& d) {
  Object rope{{"rope_type", "default"}, {"rope_theta", 5000000.0}, {"mrope_section", ints(d.mrope)},
              {"mrope_interleaved", true}};
  Object text{{"model_type", "qwen3_vl_text"},
              {"vocab_size", d.vocab},
              {"hidden_size", d.text_hidden},
              {"intermediate_size", d.text_inter},
              {"num_hidden_layers", d.text_layers},
              {"num_attention_heads", d.text_heads},
              {"num_key_value_heads", d.text_kv},
              {"head_dim", d.text_head_dim},
              {"hidden_act", "silu"},
              {"max_position_embeddings", int64_t{262144}},
              {"rms_norm_eps", 1e-6},
              {"attention_bias", false},
              {"attention_dropout", 0.0},
              {"rope_parameters", rope},
              {"tie_word_embeddings", false}};
  Object vision{{"model_type", "qwen3_vl_vision"},
                {"depth", d.vis_depth},
                {"hidden_size", d.vis_hidden},
                {"intermediate_size", d.vis_inter},
                {"num_heads", d.vis_heads},
                {"in_channels", int64_t{3}},
                {"patch_size", d.vis_patch},
                {"temporal_patch_size", int64_t{2}},
                {"spatial_merge_size", int64_t{2}},
                {"out_hidden_size", d.text_hidden},
                {"num_position_embeddings", d.vis_pos},
                {"deepstack_visual_indexes", ints(d.deepstack)},
                {"hidden_act", "gelu_pytorch_tanh"},
                {"initializer_range", 0.02}};
  return Object{{"model_type", "qwen3_vl"},
                {"architectures", Array{Value("Qwen3VLForConditionalGeneration")}},
                {"image_token_id", d.image_id},
                {"video_token_id", d.image_id + 1},
                {"vision_start_token_id", d.vstart_id},
                {"vision_end_token_id", d.vend_id},
                {"tie_word_embeddings", false},
                {"text_config", text},
                {"vision_config", vision}};
}

}  // namespace

json::Value builtin_qwen3_vl_8b_config() {
  const Dims d{4096, 12288, 36, 32, 8, 128, {24, 20, 20}, 27, 1152, 4304, 16, 16, 2304, {8, 16, 24},
               2048, 8256, 16, 512, 163840, 196608, 151936, 151655, 151652, 151653};
  return vlm_config(d);
}

json::Value preset_config(std::string_view preset) {
  const int64_t vocab = token_layout_vocab_size();
  const int64_t image_id = token_layout_id("<|image_pad|>");
  const int64_t vs = token_layout_id("<|vision_start|>"), ve = token_layout_id("<|vision_end|>");
  Dims d{};
  // max_pixels is chosen so that Qwen's smart_resize(1080, 1920) lands on the intended size:
  // tiny 64x128 (4x8 patches, 8 LLM tokens per image), small 128x224 (8x14 patches, 28 tokens).
  if (preset == "tiny") {
    d = Dims{64, 128, 2, 4, 2, 16, {4, 2, 2}, 2, 32, 64, 2, 16, 64, {0, 1},
             32, 64, 2, 32, 4096, 12288, vocab, image_id, vs, ve};
  } else if (preset == "small") {
    d = Dims{256, 2048, 4, 8, 4, 32, {8, 4, 4}, 4, 256, 1024, 4, 16, 256, {1, 2, 3},
             128, 1024, 4, 128, 16384, 32768, vocab, image_id, vs, ve};
  } else if (preset == "realdims") {
    // The release's layer widths (model-spec 1.1-1.2, 3.1) with few layers, for numerics at real sizes
    // (the export's onnxruntime parity): 2 decoder layers, 1 expert layer, 2 vision blocks each tapped
    // by DeepStack (the release taps 3 of 27; with 2 backbone layers a third tap would feed no layer),
    // and the release's min/max pixels (720 patches, 180 image tokens per 1080x1920 frame). The vocab
    // is the test tokenizer's (byte tokens + Qwen's added tokens + 4,000 <iN> + Alpamayo's specials:
    // every id the prompt uses) instead of Qwen's 151,643 BPE tokens, which only widen the embedding
    // gather and lm_head.
    d = Dims{4096, 12288, 2, 32, 8, 128, {24, 20, 20}, 2, 1152, 4304, 16, 16, 2304, {0, 1},
             2048, 8256, 16, 512, 163840, 196608, vocab, image_id, vs, ve, 1};
  } else {
    fail(ErrorCode::InvalidInput, "preset_config: unknown preset '" + std::string(preset) + "' (expected tiny, small or realdims)");
  }
  Object expert{{"head_dim", d.text_head_dim}, {"hidden_size", d.ex_hidden},
                {"intermediate_size", d.ex_inter}, {"num_attention_heads", d.ex_heads}};
  if (d.ex_layers > 0) expert["num_hidden_layers"] = d.ex_layers;
  Object special;
  for (const TokenEntry& t : token_layout())
    if (t.content.starts_with("<|") || t.content.starts_with("<think") || t.content.starts_with("</think") ||
        t.content.starts_with("<tool") || t.content.starts_with("</tool"))
      special[t.content] = t.id;
  const int64_t traj_start = token_layout_traj_start();
  Object traj_ids;
  for (const char* k : {"history", "future", "history_start", "future_start", "history_end", "future_end"})
    traj_ids[k] = token_layout_id("<|traj_" + std::string(k) + "|>");

  return Object{
      {"architectures", Array{Value("AlpamayoR1")}},
      {"model_type", "alpamayo_r1"},
      {"vlm_name_or_path", "Qwen/Qwen3-VL-8B-Instruct"},
      {"vlm_backend", "qwenvl3"},
      {"model_dtype", "bfloat16"},
      // The official config defaults to flash_attention_2 (GPU + flash-attn only); sdpa loads anywhere.
      {"attn_implementation", "sdpa"},
      {"add_special_tokens", true},
      {"traj_vocab_size", kTrajVocabSize},
      {"traj_token_start_idx", traj_start},
      {"traj_token_ids", traj_ids},
      {"special_token_ids", special},
      {"vocab_size", vocab},
      {"tokens_per_history_traj", int64_t{16}},
      {"tokens_per_future_traj", int64_t{64}},
      {"min_pixels", d.min_pixels},
      {"max_pixels", d.max_pixels},
      {"expert_non_causal_attention", true},
      {"keep_same_dtype", true},
      {"expert_cfg", expert},
      {"action_in_proj_cfg", Object{{"_target_", "alpamayo_r1.models.action_in_proj.PerWaypointActionInProjV2"},
                                    {"hidden_size", d.aip_hidden}, {"num_enc_layers", int64_t{2}},
                                    {"num_fourier_feats", int64_t{20}}, {"max_freq", 100.0}}},
      {"action_out_proj_cfg", Object{{"_target_", "torch.nn.Linear"}}},
      {"diffusion_cfg", Object{{"_target_", "alpamayo_r1.diffusion.flow_matching.FlowMatching"},
                               {"int_method", "euler"}, {"num_inference_steps", int64_t{10}}}},
      // The release's action space (model-spec §4), so demo trajectories have a realistic scale.
      {"action_space_cfg", Object{{"_target_", "alpamayo_r1.action_space.unicycle_accel_curvature.UnicycleAccelCurvatureActionSpace"},
                                  {"accel_mean", 0.02902694707164455}, {"accel_std", 0.6810426736454882},
                                  {"curvature_mean", 0.0002692167976330542}, {"curvature_std", 0.026148280660833106},
                                  {"accel_bounds", Array{-9.8, 9.8}}, {"curvature_bounds", Array{-0.33, 0.33}},
                                  {"dt", 0.1}, {"n_waypoints", int64_t{64}}, {"theta_lambda", 1e-6}, {"theta_ridge", 1e-8},
                                  {"v_lambda", 1e-6}, {"v_ridge", 1e-4}, {"a_lambda", 1e-4}, {"a_ridge", 1e-4},
                                  {"kappa_lambda", 1e-4}, {"kappa_ridge", 1e-4}}},
      {"hist_traj_tokenizer_cfg", Object{{"_target_", "alpamayo_r1.models.delta_tokenizer.DeltaTrajectoryTokenizer"},
                                         {"ego_xyz_min", Array{-4.0, -4.0, -10.0}}, {"ego_xyz_max", Array{4.0, 4.0, 10.0}},
                                         {"num_bins", int64_t{1000}}}},
      {"traj_tokenizer_cfg", Object{{"_target_", "alpamayo_r1.models.delta_tokenizer.DeltaTrajectoryTokenizer"},
                                    {"num_bins", int64_t{3000}}}},
      {"vlm_config", vlm_config(d)},
  };
}

}  // namespace alp::model
