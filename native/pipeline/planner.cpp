#include "pipeline/planner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <string_view>

#include "backends/cpu/cpu_ops.hpp"
#include "core/cancel.hpp"
#include "core/error.hpp"
#include "core/host_memory.hpp"
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
// The public API's trajectory length (lib/types.ts WAYPOINT_COUNT): a config asking for another count
// cannot be served, so it is refused at load.
constexpr int kWaypoints = 64;
// initialNoise is standard-normal noise; far larger values only overflow the Euler loop (lib/ rejects
// them first with the same bound).
constexpr float kMaxNoise = 1000.0f;

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// The config.json field whose value decides whether a tensor of this name is read.
std::string config_field_for(std::string_view name) {
  if (starts_with(name, "vlm.model.language_model.layers.")) return "vlm_config.text_config.num_hidden_layers";
  if (starts_with(name, "vlm.model.visual.blocks.")) return "vlm_config.vision_config.depth";
  if (starts_with(name, "vlm.model.visual.deepstack_merger_list.")) return "vlm_config.vision_config.deepstack_visual_indexes";
  if (starts_with(name, "expert.layers.")) return "expert_cfg.num_hidden_layers";
  if (starts_with(name, "action_in_proj.encoder.trunk.")) return "action_in_proj_cfg.num_enc_layers";
  return "";
}

// Every stored tensor must be one the network reads: a weight, or a persisted buffer the model reads
// (model/buffers.hpp). A config that describes fewer layers than the checkpoint holds would otherwise
// run a different, silently truncated model.
void check_no_unused_tensors(const Checkpoint& ck, const model::ModelConfig& cfg, const std::string& config_path) {
  std::set<std::string, std::less<>> used;
  for (const model::ParamSpec& spec : model::parameter_specs(cfg)) used.insert(spec.name);
  for (const model::BufferSpec& spec : model::buffer_specs(cfg)) used.insert(spec.name);
  std::vector<std::string> unused;
  for (const std::string& name : ck.names())
    if (!used.count(name)) unused.push_back(name);
  if (unused.empty()) return;
  std::string list;
  for (size_t i = 0; i < unused.size() && i < 3; ++i) list += (i ? "', '" : "'") + unused[i];
  list += "'";
  if (unused.size() > 3) list += ", ...";
  const std::string field = config_field_for(unused.front());
  fail(ErrorCode::InvalidCheckpoint,
       config_path + (field.empty() ? "" : ": " + field) + ": the checkpoint holds " + std::to_string(unused.size()) +
           " tensor(s) the model this config describes never reads (" + list + ")" +
           (field.empty() ? "" : "; does " + field + " match the weights?"));
}

// Host memory the CPU executor will hold after a default plan: every weight as the executor keeps it
// (bf16-stored matrices as bf16 in fp32/bf16 modes, the rest as fp32 copies, two in fp8 mode: the
// rounded copy too), the KV cache of a default prompt and reasoning budget, and the largest live
// activations (vision MLP over every patch, decoder MLP over the prompt). An estimate to fail fast on,
// not an exact account.
uint64_t cpu_plan_bytes(const Checkpoint& ck, const model::ModelConfig& cfg, const std::string& precision, int64_t image_tokens) {
  const alp::Precision p = alp::parse_precision(precision);
  uint64_t weights = 0;
  for (const model::ParamSpec& spec : model::parameter_specs(cfg)) {
    const uint64_t per = cpu::keeps_bf16(ck.info(spec.name).dtype, spec.shape.size(), p) ? 2 : p == alp::Precision::FP8 ? 8 : 4;
    weights += static_cast<uint64_t>(shape_numel(spec.shape)) * per;
  }
  const uint64_t positions = static_cast<uint64_t>(kImages * image_tokens + 512 + 256);
  const uint64_t kv = 2 * static_cast<uint64_t>(cfg.text.num_layers * cfg.text.num_kv_heads * cfg.text.head_dim) * positions * sizeof(float);
  const uint64_t patches = static_cast<uint64_t>(kImages * image_tokens * cfg.vision.merge_unit());
  const uint64_t vision = 4 * patches * static_cast<uint64_t>(std::max(cfg.vision.intermediate_size, 3 * cfg.vision.hidden_size)) * sizeof(float);
  const uint64_t text = 4 * positions * static_cast<uint64_t>(std::max(cfg.text.intermediate_size, cfg.text.num_heads * cfg.text.head_dim)) * sizeof(float);
  return weights + kv + std::max(vision, text);
}

// First non-finite value of `v`, or -1.
int64_t first_non_finite(std::span<const float> v) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) return static_cast<int64_t>(i);
  return -1;
}

// A plan never returns NaN or Inf. Values that go non-finite inside the network come from the weights
// (inputs are validated and bounded before they reach it), hence InvalidCheckpoint.
void require_finite_output(std::span<const float> v, const std::string& where) {
  const int64_t i = first_non_finite(v);
  if (i < 0) return;
  fail(ErrorCode::InvalidCheckpoint, "non-finite values (" + std::to_string(v[static_cast<size_t>(i)]) + " at index " +
                                         std::to_string(i) + ") first appeared in " + where +
                                         ": the checkpoint's weights produce NaN/Inf for valid input");
}

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
  const std::string config_path = options.checkpoint + (options.checkpoint.empty() || options.checkpoint.back() == '/' ? "" : "/") + "config.json";
  if (impl->cfg.action_space.n_waypoints != kWaypoints)
    fail(ErrorCode::InvalidCheckpoint, config_path + ": action_space_cfg.n_waypoints: expected " + std::to_string(kWaypoints) +
                                           " (the trajectory length plan() returns), got " +
                                           std::to_string(impl->cfg.action_space.n_waypoints));
  // The config must describe the tensors actually stored: a size that disagrees with a weight would
  // otherwise surface mid-plan (or as an absurd allocation) instead of at load.
  for (const model::ParamSpec& spec : model::parameter_specs(impl->cfg)) {
    const TensorInfo& info = impl->checkpoint->info(spec.name);
    if (info.shape != spec.shape)
      fail(ErrorCode::InvalidCheckpoint, config_path + ": tensor '" + spec.name + "' has shape " + shape_str(info.shape) +
                                             " but config.json implies " + shape_str(spec.shape));
  }
  check_no_unused_tensors(*impl->checkpoint, impl->cfg, config_path);
  const auto& v = impl->cfg.vision;
  const model::ImageSize camera = impl->input_size(0, kCameraHeight, kCameraWidth);
  impl->tokens_per_image = (camera.height / v.patch_size) * (camera.width / v.patch_size) / v.merge_unit();
  impl->threads = options.threads;
  if (options.backend == "cpu")
    require_host_memory(cpu_plan_bytes(*impl->checkpoint, impl->cfg, options.precision, impl->tokens_per_image),
                        "the cpu backend (" + options.precision + " weights of " +
                            std::to_string(model::parameter_count(impl->cfg)) + " parameters, KV cache, activations)");
  impl->executor = make_executor(options, impl->checkpoint, impl->cfg);
  return std::unique_ptr<Planner>(new Planner(std::move(impl)));
}

model::ExecutorInfo Planner::info() const { return impl_->executor->info(); }
const json::Value& Planner::config() const { return impl_->config; }
int64_t Planner::image_tokens_per_image() const { return impl_->tokens_per_image; }
int64_t Planner::max_positions() const { return impl_->cfg.text.max_position_embeddings; }

PlanResult Planner::plan(const PlanRequest& req, const TokenSink& on_token, const std::atomic<bool>& abort) {
  Impl& m = *impl_;
  const model::ModelConfig& cfg = m.cfg;
  const auto t_start = Clock::now();
  // Model loops (vision blocks, decoder layers, CPU kernels) poll the flag through this scope.
  const CancelScope cancel_scope(abort);
  // The stage running now, named in abort errors: "during" when a check inside a stage's loop fired,
  // "after" for the checks between stages.
  std::string stage = "preprocess";
  auto check_abort = [&] {
    if (abort.load(std::memory_order_relaxed)) fail(ErrorCode::Aborted, "plan aborted");
  };
  auto check_abort_after = [&] {
    if (abort.load(std::memory_order_relaxed)) fail(ErrorCode::Aborted, "plan aborted after " + stage);
  };
  const int n_wp = cfg.action_space.n_waypoints;
  const int64_t image_token = cfg.image_token_id;
  const int64_t traj_future_start = cfg.special_id("<|traj_future_start|>");
  const int64_t eos_a = cfg.special_id("<|im_end|>"), eos_b = cfg.special_id("<|endoftext|>");

  if (req.samples < 1) fail(ErrorCode::InvalidInput, "samples: expected >= 1, got " + std::to_string(req.samples));
  if (req.diffusion_steps < 1) fail(ErrorCode::InvalidInput, "diffusionSteps: expected >= 1");
  if (req.sample_batch < 0) fail(ErrorCode::InvalidInput, "sampleBatch: expected >= 1, got " + std::to_string(req.sample_batch));
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
  if (req.initial_noise)
    for (size_t i = 0; i < req.initial_noise->size(); ++i)
      if (!(std::fabs((*req.initial_noise)[i]) <= kMaxNoise))
        fail(ErrorCode::InvalidInput, "initialNoise[" + std::to_string(i) + "]: expected a finite value with |v| <= " +
                                          std::to_string(static_cast<int>(kMaxNoise)) + ", got " +
                                          std::to_string((*req.initial_noise)[i]));
  {
    // Prompt + reasoning must fit the model's context (lib/ bounds the command far below this).
    const int64_t budget = req.forced_tokens ? static_cast<int64_t>(req.forced_tokens->size()) : req.max_reasoning_tokens;
    const int64_t need = static_cast<int64_t>(req.prompt_ids.size()) + budget + 1;
    if (need > cfg.text.max_position_embeddings)
      fail(ErrorCode::InvalidInput, "promptIds: " + std::to_string(req.prompt_ids.size()) + " prompt tokens + " +
                                        std::to_string(budget) + " reasoning tokens exceed the model's context of " +
                                        std::to_string(cfg.text.max_position_embeddings) + " positions");
  }
  const std::vector<model::Pose> history = model::to_ego_frame(ego_history_poses(req.ego_history));

  PlanResult out;
  try {
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
  check_abort_after();

  t = Clock::now();
  stage = "vision";
  m.executor->encode_images({on_device ? nullptr : m.patches.data(), grids});
  out.timings.vision_ms = ms_since(t);
  check_abort_after();

  // Prefill with M-RoPE positions (get_rope_index); the cache prefix is shared by every rollout.
  t = Clock::now();
  stage = "prefill";
  std::vector<int64_t> ids64(req.prompt_ids.begin(), req.prompt_ids.end());
  const model::RopeIndex ri = model::rope_index(cfg, ids64, grids);
  const int64_t budget = req.forced_tokens ? static_cast<int64_t>(req.forced_tokens->size()) : req.max_reasoning_tokens;
  // Samples run in groups of lanes: every lane of a group decodes in one pass per token and denoises
  // in one expert pass; a group of one is the one-at-a-time rollout.
  const int group = std::max(1, std::min({req.samples, m.executor->max_lanes(),
                                          req.sample_batch > 0 ? req.sample_batch : req.samples}));
  m.executor->reserve(static_cast<int64_t>(req.prompt_ids.size()) + budget + 1, group);
  m.executor->prefill(req.prompt_ids, ri.pos);
  out.timings.prefill_ms = ms_since(t);
  check_abort_after();

  const double v0 = model::estimate_v0(history, cfg.action_space);
  if (!std::isfinite(v0) || std::fabs(v0) > 1e3)
    fail(ErrorCode::InvalidInput, "egoHistory: expected poses implying a speed below 1000 m/s, got an estimated speed at t0 of " +
                                      std::to_string(v0) + " m/s");
  out.v0 = v0;
  const int64_t n_prompt = static_cast<int64_t>(req.prompt_ids.size());
  model::SamplingParams sp{req.temperature, req.top_p, cfg.traj_token_start_idx,
                           cfg.traj_token_start_idx + cfg.traj_vocab_size};
  out.tokens.resize(static_cast<size_t>(req.samples));
  std::vector<float> x(noise_len);
  const size_t per_sample = static_cast<size_t>(n_wp * cfg.action_dims);
  const int limit = req.forced_tokens ? static_cast<int>(req.forced_tokens->size()) : req.max_reasoning_tokens;
  for (int g0 = 0; g0 < req.samples; g0 += group) {
    const int lanes = std::min(group, req.samples - g0);
    // Reasoning rollouts g0 .. g0 + lanes - 1: sampled (or teacher-forced) tokens after the shared
    // prompt, each from its own SplitMix64 stream, so sample s draws what it would draw alone. As in the
    // official generate(), the token that ends the generation (token limit, <|im_end|>/<|endoftext|>) is
    // never fed, so the cache holds prompt + generated - 1 positions; <|traj_future_start|> is fed when
    // the budget leaves room for the token after it (StopAfterEOS), a forced one always. The expert's
    // offset is index(<|traj_future_start|>) + 1, else the generated length.
    t = Clock::now();
    stage = "reasoning (samples " + std::to_string(g0) + ".." + std::to_string(g0 + lanes - 1) + ")";
    std::vector<model::TokenSampler> samplers;
    std::vector<model::TokenSampler*> draw;
    for (int k = 0; k < lanes; ++k) samplers.emplace_back(model::rollout_sampler_state(req.seed, static_cast<uint64_t>(g0 + k)));
    for (auto& smp : samplers) draw.push_back(req.forced_tokens ? nullptr : &smp);
    std::vector<int32_t> next = m.executor->start_lanes(draw, sp);
    std::vector<int64_t> cache_pos(static_cast<size_t>(lanes), n_prompt);
    std::vector<bool> done(static_cast<size_t>(lanes), false);
    std::vector<model::LaneStep> steps;
    for (int i = 0; i < limit; ++i) {
      check_abort();
      steps.clear();
      bool running = false;
      for (int k = 0; k < lanes; ++k) {
        const size_t kk = static_cast<size_t>(k);
        if (done[kk]) continue;  // finished lanes cost nothing
        const int32_t tok = req.forced_tokens ? (*req.forced_tokens)[static_cast<size_t>(i)] : next[kk];
        if (tok < 0 || tok >= cfg.vocab_size) fail(ErrorCode::InvalidInput, "reasoningTokens: id " + std::to_string(tok) + " outside the vocabulary");
        out.tokens[static_cast<size_t>(g0 + k)].push_back(tok);
        on_token(g0 + k, tok);
        const bool future_start = tok == traj_future_start;
        const bool eos = !req.forced_tokens && (tok == eos_a || tok == eos_b);
        const bool budget_spent = i + 1 == limit && !(req.forced_tokens && future_start);
        if (eos || budget_spent || future_start) done[kk] = true;
        if (eos || budget_spent) continue;
        // Fed; the lane draws its next token unless <|traj_future_start|> ended it.
        steps.push_back({k, tok, cache_pos[kk], cache_pos[kk] + ri.rope_delta, future_start ? nullptr : draw[kk]});
        running = running || !future_start;
      }
      if (!steps.empty()) {
        const std::vector<int32_t> ids = m.executor->decode(steps, sp);
        if (ids.size() != steps.size())
          fail(ErrorCode::Internal, "decode returned " + std::to_string(ids.size()) + " tokens for " + std::to_string(steps.size()) + " lanes");
        for (size_t j = 0; j < steps.size(); ++j) {
          const size_t kk = static_cast<size_t>(steps[j].lane);
          ++cache_pos[kk];
          next[kk] = ids[j];
        }
      }
      if (!running) break;
    }
    // The rollout stops at the first <|traj_future_start|>, so both official offsets are the length.
    std::vector<model::DenoiseLane> dl;
    for (int k = 0; k < lanes; ++k) {
      const int64_t offset = n_prompt + static_cast<int64_t>(out.tokens[static_cast<size_t>(g0 + k)].size());
      dl.push_back({k, cache_pos[static_cast<size_t>(k)], offset + ri.rope_delta});
    }
    out.timings.reasoning_ms += ms_since(t);
    check_abort_after();

    t = Clock::now();
    stage = "denoising (samples " + std::to_string(g0) + ".." + std::to_string(g0 + lanes - 1) + ")";
    float* xs = x.data() + static_cast<size_t>(g0) * per_sample;
    for (int k = 0; k < lanes; ++k) {
      float* xk = xs + static_cast<size_t>(k) * per_sample;
      if (req.initial_noise)
        std::copy_n(req.initial_noise->data() + static_cast<size_t>(g0 + k) * per_sample, per_sample, xk);
      else
        model::fill_philox_normal(req.seed, static_cast<uint64_t>(g0 + k), 0, std::span<float>(xk, per_sample));
    }
    m.executor->denoise(xs, dl, req.diffusion_steps, check_abort);
    require_finite_output({xs, per_sample * static_cast<size_t>(lanes)},
                          "the action expert's output (denoising) of samples " + std::to_string(g0) + ".." + std::to_string(g0 + lanes - 1));
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
    for (const auto& p : poses)
      for (double v : p.p)
        if (!std::isfinite(v))
          fail(ErrorCode::InvalidCheckpoint, "non-finite values first appeared in the trajectory integration of sample " +
                                                 std::to_string(s) + ": the action expert's controls are far outside the action space");
    out.accel.insert(out.accel.end(), c.accel.begin(), c.accel.end());
    out.curvature.insert(out.curvature.end(), c.curvature.begin(), c.curvature.end());
    for (const auto& p : poses) {
      out.positions.insert(out.positions.end(), p.p, p.p + 3);
      out.rotations.insert(out.rotations.end(), p.R, p.R + 9);
    }
  }
  out.timings.action_ms += ms_since(t);
  } catch (const Error& e) {
    // In-stage checks (model loops, kernels, the token and Euler loops) raise a bare "plan aborted".
    if (e.code() == ErrorCode::Aborted && std::string_view(e.what()) == "plan aborted")
      fail(ErrorCode::Aborted, "plan aborted during " + stage);
    throw;
  }
  out.timings.total_ms = ms_since(t_start);
  return out;
}

}  // namespace alp::pipeline
