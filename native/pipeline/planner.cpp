#include "pipeline/planner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "backends/cpu/cpu_ops.hpp"
#include "core/error.hpp"
#include "model/buffers.hpp"
#include "model/config.hpp"
#include "model/expert.hpp"
#include "model/param_specs.hpp"
#include "model/philox.hpp"
#include "model/preprocess.hpp"
#include "model/rope_tables.hpp"
#include "model/sampling.hpp"
#include "model/trajectory.hpp"
#include "pipeline/backend_factory.hpp"
#include "model/ops_executor.hpp"

namespace alp::pipeline {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// The release cameras' resolution (model-spec §1.3), for image_tokens_per_image(). Each frame is sized
// from its own shape at plan time, as the official processor does.
constexpr int kCameraHeight = 1080, kCameraWidth = 1920;
constexpr int kImages = 16;

// config.json with action_space_cfg's mean/std replaced by the values in use (the checkpoint's buffers
// win, model/buffers.hpp), so the trajectory helpers given planner.modelConfig reproduce plan() exactly.
json::Value effective_config(const json::Value& config, const model::ModelConfig& cfg) {
  json::Object root = config.as_object();
  json::Object as;
  if (const json::Value* a = config.find("action_space_cfg"); a && a->is_object()) as = a->as_object();
  as["accel_mean"] = cfg.action_space.accel_mean;
  as["accel_std"] = cfg.action_space.accel_std;
  as["curvature_mean"] = cfg.action_space.curvature_mean;
  as["curvature_std"] = cfg.action_space.curvature_std;
  root["action_space_cfg"] = json::Value(std::move(as));
  return json::Value(std::move(root));
}

}  // namespace

std::vector<model::Pose> ego_history_poses(std::span<const double> h) {
  if (h.size() != 16 * 13)
    fail(ErrorCode::InvalidInput, "egoHistory: expected 16 poses x 13 values, got " + std::to_string(h.size()) + " values");
  std::vector<model::Pose> poses(16);
  for (size_t i = 0; i < 16; ++i) {
    const double* r = h.data() + i * 13;
    for (size_t k = 0; k < 13; ++k)
      if (!std::isfinite(r[k])) fail(ErrorCode::InvalidInput, "egoHistory[" + std::to_string(i) + "]: non-finite value");
    poses[i].t = r[0];
    std::copy(r + 1, r + 4, poses[i].p);
    std::copy(r + 4, r + 13, poses[i].R);
  }
  return poses;
}

struct Planner::Impl {
  std::shared_ptr<const Checkpoint> checkpoint;
  json::Value config;  // config.json with the action-space statistics the planner actually uses
  model::ModelConfig cfg;
  std::unique_ptr<model::Executor> executor;
  int64_t tokens_per_image = 0;  // for a release-size (1080x1920) camera frame
  float mean[3] = {0.5f, 0.5f, 0.5f}, stdev[3] = {0.5f, 0.5f, 0.5f};  // Qwen3-VL processor
  int threads = 0;
  std::vector<float> patches;  // reused across plans: [Σ patches, patch_dim]

  // The official processor's size for one frame: smart_resize of its own shape with the checkpoint's
  // min/max pixels. InvalidInput (naming the frame) where the official rule rejects the shape.
  model::ImageSize input_size(int index, int height, int width) const {
    const int factor = static_cast<int>(cfg.vision.patch_size * cfg.vision.spatial_merge_size);
    try {
      return model::smart_resize(height, width, factor, cfg.min_pixels, cfg.max_pixels);
    } catch (const Error& e) {
      fail(ErrorCode::InvalidInput, "frames[" + std::to_string(index) + "] (" + std::to_string(width) + "x" +
                                        std::to_string(height) + "): " + e.what());
    }
  }
};

Planner::Planner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Planner::~Planner() = default;

std::unique_ptr<Planner> Planner::load(const LoadOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->checkpoint = Checkpoint::open(options.checkpoint);
  impl->cfg = model::load_model_config(*impl->checkpoint);
  impl->config = effective_config(impl->checkpoint->config(), impl->cfg);
  // The config must describe the tensors actually stored: a size that disagrees with a weight would
  // otherwise surface mid-plan (or as an absurd allocation) instead of at load.
  for (const model::ParamSpec& spec : model::parameter_specs(impl->cfg)) {
    const TensorInfo& info = impl->checkpoint->info(spec.name);
    if (info.shape != spec.shape)
      fail(ErrorCode::InvalidCheckpoint, "tensor '" + spec.name + "' has shape " + shape_str(info.shape) +
                                             " but config.json implies " + shape_str(spec.shape));
  }
  const auto& v = impl->cfg.vision;
  const model::ImageSize camera = impl->input_size(0, kCameraHeight, kCameraWidth);
  impl->tokens_per_image = (camera.height / v.patch_size) * (camera.width / v.patch_size) / v.merge_unit();
  impl->threads = options.threads;
  impl->executor = make_executor(options, impl->checkpoint, impl->cfg);
  return std::unique_ptr<Planner>(new Planner(std::move(impl)));
}

model::ExecutorInfo Planner::info() const { return impl_->executor->info(); }
const json::Value& Planner::config() const { return impl_->config; }
int64_t Planner::image_tokens_per_image() const { return impl_->tokens_per_image; }

PlanResult Planner::plan(const PlanRequest& req, const TokenSink& on_token, const std::atomic<bool>& abort) {
  Impl& m = *impl_;
  const model::ModelConfig& cfg = m.cfg;
  const auto t_start = Clock::now();
  auto check_abort = [&] {
    if (abort.load(std::memory_order_relaxed)) fail(ErrorCode::Aborted, "plan aborted");
  };
  const int n_wp = cfg.action_space.n_waypoints;
  const int64_t image_token = cfg.image_token_id;
  const int64_t traj_future_start = cfg.special_id("<|traj_future_start|>");
  const int64_t eos_a = cfg.special_id("<|im_end|>"), eos_b = cfg.special_id("<|endoftext|>");

  if (req.samples < 1) fail(ErrorCode::InvalidInput, "samples: expected >= 1, got " + std::to_string(req.samples));
  if (req.diffusion_steps < 1) fail(ErrorCode::InvalidInput, "diffusionSteps: expected >= 1");
  // Per-image model input sizes and patch grids (the processor's image_grid_thw).
  std::vector<model::ImageSize> sizes(kImages);
  std::vector<model::ImageGrid> grids(kImages);
  int64_t n_patches = 0, n_image_tokens = 0;
  for (int i = 0; i < kImages; ++i) {
    const Frame& f = req.frames[static_cast<size_t>(i)];
    if (!f.rgb || f.width < 1 || f.height < 1) fail(ErrorCode::InvalidInput, "frames[" + std::to_string(i) + "]: empty frame");
    const model::ImageSize sz = m.input_size(i, f.height, f.width);
    sizes[static_cast<size_t>(i)] = sz;
    grids[static_cast<size_t>(i)] = {1, sz.height / cfg.vision.patch_size, sz.width / cfg.vision.patch_size};
    n_patches += grids[static_cast<size_t>(i)].patches();
    n_image_tokens += grids[static_cast<size_t>(i)].patches() / cfg.vision.merge_unit();
  }
  const int64_t pads = std::count(req.prompt_ids.begin(), req.prompt_ids.end(), static_cast<int32_t>(image_token));
  if (pads != n_image_tokens)
    fail(ErrorCode::InvalidInput, "promptIds: expected " + std::to_string(n_image_tokens) +
                                      " image tokens (the 16 frames' smart_resize sizes), got " + std::to_string(pads));
  for (int32_t id : req.prompt_ids)
    if (id < 0 || id >= cfg.vocab_size)
      fail(ErrorCode::InvalidInput, "promptIds: token id " + std::to_string(id) + " outside [0, " + std::to_string(cfg.vocab_size) + ")");
  const size_t noise_len = static_cast<size_t>(req.samples) * n_wp * cfg.action_dims;
  if (req.initial_noise && req.initial_noise->size() != noise_len)
    fail(ErrorCode::InvalidInput, "initialNoise: expected " + std::to_string(noise_len) + " values, got " +
                                      std::to_string(req.initial_noise->size()));
  const std::vector<model::Pose> history = model::to_ego_frame(ego_history_poses(req.ego_history));

  PlanResult out;
  // Preprocess: every frame resized to its own model input size, normalised and patchified; on the
  // executor's device when it can and the frames share one input and one output size (CUDA: pinned
  // staging and one launch sequence for the 16 frames), else here.
  auto t = Clock::now();
  std::vector<model::FrameView> views(kImages);
  std::vector<const uint8_t*> rgb(kImages);
  bool one_size = true;
  for (int i = 0; i < kImages; ++i) {
    const Frame& f = req.frames[static_cast<size_t>(i)];
    views[static_cast<size_t>(i)] = {f.rgb, f.height, f.width};
    rgb[static_cast<size_t>(i)] = f.rgb;
    one_size = one_size && f.width == req.frames[0].width && f.height == req.frames[0].height &&
               sizes[static_cast<size_t>(i)].height == sizes[0].height && sizes[static_cast<size_t>(i)].width == sizes[0].width;
  }
  const bool on_device =
      one_size && m.executor->preprocess_on_device({rgb, req.frames[0].height, req.frames[0].width,
                                                    static_cast<int>(sizes[0].height), static_cast<int>(sizes[0].width),
                                                    m.mean, m.stdev});
  if (!on_device) {
    m.patches.resize(static_cast<size_t>(n_patches * cfg.vision.patch_dim()));
    model::VisionPatchConfig pc{static_cast<int>(cfg.vision.patch_size), static_cast<int>(cfg.vision.temporal_patch_size),
                                static_cast<int>(cfg.vision.spatial_merge_size)};
    model::preprocess_frames(views, sizes, m.mean, m.stdev, m.patches.data(), pc, m.threads);
  }
  out.timings.preprocess_ms = ms_since(t);
  check_abort();

  t = Clock::now();
  m.executor->encode_images({on_device ? nullptr : m.patches.data(), grids});
  out.timings.vision_ms = ms_since(t);
  check_abort();

  // Prefill with M-RoPE positions (get_rope_index); the cache prefix is shared by every rollout.
  t = Clock::now();
  std::vector<int64_t> ids64(req.prompt_ids.begin(), req.prompt_ids.end());
  const model::RopeIndex ri = model::rope_index(cfg, ids64, grids);
  const int64_t budget = req.forced_tokens ? static_cast<int64_t>(req.forced_tokens->size()) : req.max_reasoning_tokens;
  m.executor->reserve(static_cast<int64_t>(req.prompt_ids.size()) + budget + 1);
  const std::vector<float> prompt_logits = m.executor->prefill(req.prompt_ids, ri.pos);
  out.timings.prefill_ms = ms_since(t);
  check_abort();

  const double v0 = model::estimate_v0(history, cfg.action_space);
  out.v0 = v0;
  const int64_t n_prompt = static_cast<int64_t>(req.prompt_ids.size());
  model::SamplingParams sp{req.temperature, req.top_p, cfg.traj_token_start_idx,
                           cfg.traj_token_start_idx + cfg.traj_vocab_size};
  out.tokens.resize(static_cast<size_t>(req.samples));
  std::vector<float> x(noise_len);
  for (int s = 0; s < req.samples; ++s) {
    // Reasoning rollout s: sampled (or teacher-forced) tokens after the shared prompt. As in the official
    // generate(), the token that ends the generation (token limit, <|im_end|>/<|endoftext|>) is never fed,
    // so the cache holds prompt + generated - 1 positions; <|traj_future_start|> is fed when the budget
    // leaves room for the token after it (StopAfterEOS), a forced one always. The expert's offset is
    // index(<|traj_future_start|>) + 1, else the generated length.
    t = Clock::now();
    std::vector<int32_t>& toks = out.tokens[static_cast<size_t>(s)];
    std::vector<float> logits = prompt_logits;
    model::TokenSampler sampler(model::rollout_sampler_state(req.seed, static_cast<uint64_t>(s)));
    int64_t cache_pos = n_prompt;
    const int limit = req.forced_tokens ? static_cast<int>(req.forced_tokens->size()) : req.max_reasoning_tokens;
    for (int i = 0; i < limit; ++i) {
      check_abort();
      const int32_t tok = req.forced_tokens ? (*req.forced_tokens)[static_cast<size_t>(i)]
                                            : static_cast<int32_t>(sampler.next(logits, sp));
      if (tok < 0 || tok >= cfg.vocab_size) fail(ErrorCode::InvalidInput, "reasoningTokens: id " + std::to_string(tok) + " outside the vocabulary");
      toks.push_back(tok);
      on_token(s, tok);
      const bool future_start = tok == traj_future_start;
      const bool eos = !req.forced_tokens && (tok == eos_a || tok == eos_b);
      const bool budget_spent = i + 1 == limit && !(req.forced_tokens && future_start);
      if (eos || budget_spent) break;
      logits = m.executor->decode(tok, cache_pos, cache_pos + ri.rope_delta);
      ++cache_pos;
      if (future_start) break;
    }
    // The rollout stops at the first <|traj_future_start|>, so both official offsets are the length.
    const int64_t offset = n_prompt + static_cast<int64_t>(toks.size());
    out.timings.reasoning_ms += ms_since(t);
    check_abort();

    t = Clock::now();
    float* xs = x.data() + static_cast<size_t>(s) * n_wp * cfg.action_dims;
    const size_t n = static_cast<size_t>(n_wp * cfg.action_dims);
    if (req.initial_noise)
      std::copy_n(req.initial_noise->data() + static_cast<size_t>(s) * n, n, xs);
    else
      model::fill_philox_normal(req.seed, static_cast<uint64_t>(s), 0, std::span<float>(xs, n));
    m.executor->denoise(xs, 1, req.diffusion_steps, cache_pos, offset + ri.rope_delta, check_abort);
    out.timings.action_ms += ms_since(t);
  }

  t = Clock::now();
  out.normalized = x;
  out.timestamps.resize(static_cast<size_t>(n_wp));
  for (int i = 0; i < n_wp; ++i) out.timestamps[static_cast<size_t>(i)] = (i + 1) * cfg.action_space.dt;
  for (int s = 0; s < req.samples; ++s) {
    std::span<const float> xs(x.data() + static_cast<size_t>(s) * n_wp * cfg.action_dims, static_cast<size_t>(n_wp * cfg.action_dims));
    const model::Controls c = model::denormalize_actions(xs, cfg.action_space);
    const std::vector<model::Pose> poses = model::integrate(c, v0, cfg.action_space, 0.0);
    out.accel.insert(out.accel.end(), c.accel.begin(), c.accel.end());
    out.curvature.insert(out.curvature.end(), c.curvature.begin(), c.curvature.end());
    for (const auto& p : poses) {
      out.positions.insert(out.positions.end(), p.p, p.p + 3);
      out.rotations.insert(out.rotations.end(), p.R, p.R + 9);
    }
  }
  out.timings.action_ms += ms_since(t);
  out.timings.total_ms = ms_since(t_start);
  return out;
}

}  // namespace alp::pipeline
