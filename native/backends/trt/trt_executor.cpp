#include "backends/trt/trt_executor.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "backends/trt/euler_update.hpp"
#include "core/error.hpp"

namespace alp::trt {
namespace {

namespace N = engine::names;
constexpr int64_t kActionValues = 64 * 2;  // (accel, curvature) x 64 waypoints per sample

const engine::ProfileRange& profile_range(const engine::EngineSpec& e, std::string_view profile, std::string_view input) {
  const int idx = profile.empty() ? 0 : e.profile_index(profile);
  if (idx < 0) fail(ErrorCode::InvalidEngine, "engine " + e.name + ": no profile \"" + std::string(profile) + "\"");
  const auto& inputs = e.profiles[static_cast<size_t>(idx)].inputs;
  auto it = inputs.find(input);
  if (it == inputs.end())
    fail(ErrorCode::InvalidEngine, "engine " + e.name + ": profile lists no range for " + std::string(input));
  return it->second;
}

int32_t to_i32(int64_t v, const char* what) {
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
    fail(ErrorCode::InvalidInput, std::string(what) + " = " + std::to_string(v) + " does not fit the engines' int32");
  return static_cast<int32_t>(v);
}

}  // namespace

TrtExecutor::TrtExecutor(TrtExecutorOptions options)
    : opts_(std::move(options)),
      manifest_(engine::load_engine_manifest(opts_.engine_dir)),
      gpu_(query_gpu(opts_.device)),
      logger_(opts_.log, opts_.log_level) {
  if (!opts_.model_config_sha256.empty() && opts_.model_config_sha256 != manifest_.model_config_sha256)
    fail(ErrorCode::InvalidEngine, "engines in " + opts_.engine_dir + " were built for model config sha256 " +
                                       manifest_.model_config_sha256 + ", the checkpoint's config.json is " +
                                       opts_.model_config_sha256);
  check_cuda(cudaSetDevice(gpu_.device), "cudaSetDevice");
  runtime_.reset(nvinfer1::createInferRuntime(logger_));
  if (!runtime_) fail(ErrorCode::BackendUnavailable, "TensorRT createInferRuntime failed: " + logger_.take_errors());

  vision_ = load_engine(*runtime_, logger_, manifest_.engine(N::kVision), opts_.engine_dir, gpu_);
  llm_ = load_engine(*runtime_, logger_, manifest_.engine(N::kLlm), opts_.engine_dir, gpu_);
  check_kv_aliasing(llm_, manifest_.kv_cache.layers);
  expert_ = load_engine(*runtime_, logger_, manifest_.engine(N::kExpert), opts_.engine_dir, gpu_);
  allocate_buffers();
}

TrtExecutor::~TrtExecutor() = default;

void TrtExecutor::allocate_buffers() {
  const auto& kv = manifest_.kv_cache;
  const auto& vision = *vision_.spec;
  const auto& llm = *llm_.spec;
  const auto& expert = *expert_.spec;
  act_size_ = engine::manifest_dtype_size(kv.dtype);

  const auto& px = profile_range(vision, "", N::kPixelValues);
  max_patches_ = px.max[0];
  patch_dim_ = px.max[1];
  max_images_ = profile_range(vision, "", N::kImageGridThw).max[0];
  max_image_rows_ = profile_range(llm, "prefill", N::kImageEmbeds).max[0];
  deepstack_layers_ = profile_range(llm, "prefill", N::kDeepstackEmbeds).max[0];
  max_prefill_ = profile_range(llm, "prefill", N::kInputIds).max[1];
  max_samples_ = profile_range(expert, "", N::kX).max[0];
  const int64_t H = manifest_.hidden_size;

  kv_ = DeviceBuffer(kv.bytes(), "KV cache");
  pixels_ = DeviceBuffer(static_cast<size_t>(max_patches_ * patch_dim_) * 4, "pixel_values");
  grid_ = DeviceBuffer(static_cast<size_t>(max_images_) * 3 * 4, "image_grid_thw");
  image_embeds_ = DeviceBuffer(static_cast<size_t>(max_image_rows_ * H) * act_size_, "image_embeds");
  deepstack_ = DeviceBuffer(static_cast<size_t>(deepstack_layers_ * max_image_rows_ * H) * act_size_, "deepstack_embeds");
  ids_ = DeviceBuffer(static_cast<size_t>(max_prefill_) * 4, "input_ids");
  positions_ = DeviceBuffer(static_cast<size_t>(3 * max_prefill_) * 4, "position_ids");
  image_index_ = DeviceBuffer(static_cast<size_t>(max_prefill_) * 4, "image_token_index");
  write_index_ = DeviceBuffer(4, "kv_write_index");
  logits_ = DeviceBuffer(static_cast<size_t>(manifest_.vocab_size) * 4, "logits");
  x_ = DeviceBuffer(static_cast<size_t>(max_samples_ * kActionValues) * 4, "x");
  v_ = DeviceBuffer(static_cast<size_t>(max_samples_ * kActionValues) * 4, "velocity");
  t_ = DeviceBuffer(static_cast<size_t>(max_samples_) * 4, "t");
  kv_length_ = DeviceBuffer(4, "kv_length");
  position_base_ = DeviceBuffer(4, "position_base");

  const size_t in_bytes = std::max({static_cast<size_t>(max_patches_ * patch_dim_) * 4 + static_cast<size_t>(max_images_) * 12,
                                    static_cast<size_t>(5 * max_prefill_ + 1) * 4,
                                    static_cast<size_t>(max_samples_ * (kActionValues + 1) + 2) * 4});
  const size_t out_bytes = std::max(static_cast<size_t>(manifest_.vocab_size), static_cast<size_t>(max_samples_ * kActionValues)) * 4;
  host_in_ = PinnedBuffer(in_bytes, "host staging (inputs)");
  host_out_ = PinnedBuffer(out_bytes, "host staging (outputs)");

  // Defined contents for rows the engines read but no image filled (the one-row placeholder of a
  // text-only prefill or a decode step), and an empty cache.
  check_cuda(cudaMemsetAsync(kv_.get(), 0, kv_.bytes(), stream_.get()), "zero KV cache");
  check_cuda(cudaMemsetAsync(image_embeds_.get(), 0, image_embeds_.bytes(), stream_.get()), "zero image_embeds");
  check_cuda(cudaMemsetAsync(deepstack_.get(), 0, deepstack_.bytes(), stream_.get()), "zero deepstack_embeds");
  stream_.synchronize("buffer initialisation");
}

void TrtExecutor::set_shape(nvinfer1::IExecutionContext& ctx, const engine::EngineSpec& spec, const char* tensor,
                            const Shape& shape) {
  if (!ctx.setInputShape(tensor, to_dims(shape, tensor)))
    fail(ErrorCode::InvalidInput, "engine " + spec.name + " tensor " + tensor + ": shape " + engine::dims_str(shape) +
                                      " is outside the engine's optimization profile: " + logger_.take_errors());
}

void TrtExecutor::set_address(nvinfer1::IExecutionContext& ctx, const engine::EngineSpec& spec,
                              const std::string& tensor, void* ptr) {
  if (!ctx.setTensorAddress(tensor.c_str(), ptr))
    fail(ErrorCode::Internal, "engine " + spec.name + " tensor " + tensor + ": setTensorAddress failed: " +
                                  logger_.take_errors());
}

// The cache is one allocation: layer l's K at slot 2l, V at 2l+1, each [1, kv_heads, capacity, head_dim].
// With in-place update present.l.* is bound to the very buffer of past_key_values.l.* (KVCacheUpdate).
void TrtExecutor::bind_kv(nvinfer1::IExecutionContext& ctx, bool with_present) {
  const auto& kv = manifest_.kv_cache;
  const size_t slot = static_cast<size_t>(kv.kv_heads * kv.capacity * kv.head_dim) * act_size_;
  auto* base = kv_.as<uint8_t>();
  const engine::EngineSpec& spec = with_present ? *llm_.spec : *expert_.spec;
  for (int64_t l = 0; l < kv.layers; ++l) {
    void* k = base + static_cast<size_t>(2 * l) * slot;
    void* v = base + static_cast<size_t>(2 * l + 1) * slot;
    set_address(ctx, spec, N::past_key(l), k);
    set_address(ctx, spec, N::past_value(l), v);
    if (with_present) {
      set_address(ctx, spec, N::present_key(l), k);
      set_address(ctx, spec, N::present_value(l), v);
    }
  }
}

void TrtExecutor::enqueue(LoadedEngine& e, const char* what) {
  if (!e.context->allInputDimensionsSpecified())
    fail(ErrorCode::Internal, "engine " + e.spec->name + ": " + what + " left an input shape unset");
  if (!e.context->enqueueV3(stream_.get()))
    fail(ErrorCode::Internal, "engine " + e.spec->name + ": enqueueV3 failed during " + what + ": " + logger_.take_errors());
}

pipeline::ExecutorInfo TrtExecutor::info() const {
  return {"tensorrt", llm_.spec->precision,
          gpu_.name + " (" + engine::sm_name(gpu_.cc) + "), TensorRT " + runtime_version_string()};
}

void TrtExecutor::encode_images(const pipeline::ImageBatch& images) {
  const int64_t patches = images.n_images * images.grid_t * images.grid_h * images.grid_w;
  if (images.n_images <= 0 || patches <= 0 || !images.patches)
    fail(ErrorCode::InvalidInput, "encode_images: empty image batch");
  if (images.n_images > max_images_ || patches > max_patches_)
    fail(ErrorCode::InvalidInput, "encode_images: " + std::to_string(images.n_images) + " images / " +
                                      std::to_string(patches) + " patches exceed the vision engine's profile (" +
                                      std::to_string(max_images_) + " / " + std::to_string(max_patches_) + ")");
  const size_t px_bytes = static_cast<size_t>(patches * patch_dim_) * 4;
  std::memcpy(host_in_.get(), images.patches, px_bytes);
  auto* grid = reinterpret_cast<int32_t*>(host_in_.as<uint8_t>() + px_bytes);
  for (int64_t i = 0; i < images.n_images; ++i) {
    grid[3 * i] = to_i32(images.grid_t, "grid_t");
    grid[3 * i + 1] = to_i32(images.grid_h, "grid_h");
    grid[3 * i + 2] = to_i32(images.grid_w, "grid_w");
  }
  cudaStream_t s = stream_.get();
  check_cuda(cudaMemcpyAsync(pixels_.get(), host_in_.get(), px_bytes, cudaMemcpyHostToDevice, s), "upload pixel_values");
  check_cuda(cudaMemcpyAsync(grid_.get(), grid, static_cast<size_t>(images.n_images) * 12, cudaMemcpyHostToDevice, s),
             "upload image_grid_thw");

  auto& ctx = *vision_.context;
  const auto& spec = *vision_.spec;
  set_shape(ctx, spec, N::kPixelValues, {patches, patch_dim_});
  set_shape(ctx, spec, N::kImageGridThw, {images.n_images, 3});
  // Output rows follow from the input shapes; check them against our buffers before TensorRT writes.
  const Shape rows = to_shape(ctx.getTensorShape(N::kImageEmbeds));
  const Shape deep = to_shape(ctx.getTensorShape(N::kDeepstackEmbeds));
  if (rows.size() != 2 || rows[0] <= 0 || rows[0] > max_image_rows_ || deep.size() != 3 || deep[0] > deepstack_layers_ ||
      deep[1] != rows[0])
    fail(ErrorCode::InvalidEngine, "engine vision: outputs " + engine::dims_str(rows) + " / " + engine::dims_str(deep) +
                                       " for " + std::to_string(patches) + " patches do not fit the llm prefill profile (" +
                                       std::to_string(max_image_rows_) + " image rows)");
  set_address(ctx, spec, N::kPixelValues, pixels_.get());
  set_address(ctx, spec, N::kImageGridThw, grid_.get());
  set_address(ctx, spec, N::kImageEmbeds, image_embeds_.get());
  set_address(ctx, spec, N::kDeepstackEmbeds, deepstack_.get());
  enqueue(vision_, "encode_images");
  stream_.synchronize("encode_images");
  image_rows_ = rows[0];
}

std::vector<float> TrtExecutor::run_llm(int64_t n_tokens, int64_t write_index, const char* profile) {
  auto& ctx = *llm_.context;
  const auto& spec = *llm_.spec;
  cudaStream_t s = stream_.get();
  const int idx = spec.profile_index(profile);
  if (idx != llm_profile_) {
    // Switching profiles invalidates the input shapes; they are all set below.
    if (!ctx.setOptimizationProfileAsync(idx, s))
      fail(ErrorCode::Internal, std::string("engine llm: cannot select profile ") + profile + ": " + logger_.take_errors());
    llm_profile_ = idx;
  }
  const auto& img = profile_range(spec, profile, N::kImageEmbeds);
  // A prefill without images and every decode step bind a placeholder row that no token indexes.
  const int64_t rows = std::clamp<int64_t>(image_rows_, img.min[0], img.max[0]);
  const int64_t deep = profile_range(spec, profile, N::kDeepstackEmbeds).max[0];
  const int64_t H = manifest_.hidden_size;
  set_shape(ctx, spec, N::kInputIds, {1, n_tokens});
  set_shape(ctx, spec, N::kPositionIds, {3, 1, n_tokens});
  set_shape(ctx, spec, N::kImageTokenIndex, {1, n_tokens});
  set_shape(ctx, spec, N::kImageEmbeds, {rows, H});
  set_shape(ctx, spec, N::kDeepstackEmbeds, {deep, rows, H});
  set_address(ctx, spec, N::kInputIds, ids_.get());
  set_address(ctx, spec, N::kPositionIds, positions_.get());
  set_address(ctx, spec, N::kImageTokenIndex, image_index_.get());
  set_address(ctx, spec, N::kImageEmbeds, image_embeds_.get());
  set_address(ctx, spec, N::kDeepstackEmbeds, deepstack_.get());
  set_address(ctx, spec, N::kKvWriteIndex, write_index_.get());
  set_address(ctx, spec, N::kLogits, logits_.get());
  bind_kv(ctx, /*with_present=*/true);

  // host_in_ layout: ids [S] | positions [3][S] | image index [S] | write index [1]
  const size_t S = static_cast<size_t>(n_tokens);
  auto* h = host_in_.as<int32_t>();
  h[5 * S] = to_i32(write_index, "kv_write_index");
  check_cuda(cudaMemcpyAsync(ids_.get(), h, S * 4, cudaMemcpyHostToDevice, s), "upload input_ids");
  check_cuda(cudaMemcpyAsync(positions_.get(), h + S, 3 * S * 4, cudaMemcpyHostToDevice, s), "upload position_ids");
  check_cuda(cudaMemcpyAsync(image_index_.get(), h + 4 * S, S * 4, cudaMemcpyHostToDevice, s), "upload image_token_index");
  check_cuda(cudaMemcpyAsync(write_index_.get(), h + 5 * S, 4, cudaMemcpyHostToDevice, s), "upload kv_write_index");
  enqueue(llm_, profile);
  const size_t vocab = static_cast<size_t>(manifest_.vocab_size);
  check_cuda(cudaMemcpyAsync(host_out_.get(), logits_.get(), vocab * 4, cudaMemcpyDeviceToHost, s), "download logits");
  stream_.synchronize(profile);
  return std::vector<float>(host_out_.as<float>(), host_out_.as<float>() + vocab);
}

std::vector<float> TrtExecutor::prefill(std::span<const int32_t> ids, const pipeline::PositionIds& pos) {
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n == 0 || n > max_prefill_)
    fail(ErrorCode::InvalidInput, "prefill: " + std::to_string(n) + " tokens, the llm engine's prefill profile takes 1.." +
                                      std::to_string(max_prefill_));
  if (pos.t.size() != ids.size() || pos.h.size() != ids.size() || pos.w.size() != ids.size())
    fail(ErrorCode::InvalidInput, "prefill: position ids cover " + std::to_string(pos.size()) + " tokens, ids " +
                                      std::to_string(n));
  const size_t S = ids.size();
  auto* h = host_in_.as<int32_t>();
  int64_t image_row = 0;
  for (size_t i = 0; i < S; ++i) {
    h[i] = ids[i];
    h[S + i] = to_i32(pos.t[i], "position t");
    h[2 * S + i] = to_i32(pos.h[i], "position h");
    h[3 * S + i] = to_i32(pos.w[i], "position w");
    h[4 * S + i] = ids[i] == opts_.image_pad_id ? static_cast<int32_t>(image_row++) : -1;
  }
  if (image_row != image_rows_)
    fail(ErrorCode::InvalidInput, "prefill: the prompt has " + std::to_string(image_row) +
                                      " image-pad tokens but encode_images produced " + std::to_string(image_rows_) +
                                      " image embeddings");
  std::vector<float> logits = run_llm(n, 0, "prefill");
  image_rows_ = 0;  // consumed: the next prefill needs its own images
  return logits;
}

void TrtExecutor::reserve(int64_t positions) {
  // The cache was sized at load from the manifest (the engines' max profile); a plan that needs more
  // cannot run on these engines.
  if (positions > manifest_.kv_cache.capacity)
    fail(ErrorCode::InvalidInput, "plan needs " + std::to_string(positions) + " cache positions but the engines were built for " +
                                      std::to_string(manifest_.kv_cache.capacity) + " (lower maxReasoningTokens or rebuild the engines)");
}

std::vector<float> TrtExecutor::decode(int32_t id, int64_t cache_pos, int64_t rope_pos) {
  if (cache_pos < 0 || cache_pos >= manifest_.kv_cache.capacity)
    fail(ErrorCode::InvalidInput, "decode: cache position " + std::to_string(cache_pos) + " outside the KV cache (capacity " +
                                      std::to_string(manifest_.kv_cache.capacity) + ")");
  auto* h = host_in_.as<int32_t>();
  h[0] = id;
  h[1] = h[2] = h[3] = to_i32(rope_pos, "rope position");
  h[4] = -1;
  const int64_t saved = image_rows_;
  image_rows_ = 0;
  std::vector<float> logits = run_llm(1, cache_pos, "decode");
  image_rows_ = saved;
  return logits;
}

void TrtExecutor::check_samples(int n_samples, const char* what) const {
  if (n_samples <= 0 || n_samples > max_samples_)
    fail(ErrorCode::InvalidInput, std::string(what) + ": " + std::to_string(n_samples) +
                                      " samples, the expert_step engine's profile takes 1.." + std::to_string(max_samples_));
}

// Binds every expert_step tensor for n samples and uploads the prefix length and rope base (device
// scalars, so a captured graph picks up new values without re-capture).
void TrtExecutor::prepare_expert(int n_samples, int64_t prefix_len, int64_t rope_base) {
  if (prefix_len <= 0 || prefix_len > manifest_.kv_cache.capacity)
    fail(ErrorCode::InvalidInput, "expert: prefix length " + std::to_string(prefix_len) + " outside the KV cache (capacity " +
                                      std::to_string(manifest_.kv_cache.capacity) + ")");
  auto& ctx = *expert_.context;
  const auto& spec = *expert_.spec;
  set_shape(ctx, spec, N::kX, {n_samples, 64, 2});
  set_shape(ctx, spec, N::kT, {n_samples});
  set_address(ctx, spec, N::kX, x_.get());
  set_address(ctx, spec, N::kT, t_.get());
  set_address(ctx, spec, N::kKvLength, kv_length_.get());
  set_address(ctx, spec, N::kPositionBase, position_base_.get());
  set_address(ctx, spec, N::kVelocity, v_.get());
  bind_kv(ctx, /*with_present=*/false);
  // Scalars live past the x/t region of host_in_ (see allocate_buffers).
  auto* scalars = reinterpret_cast<int32_t*>(host_in_.as<float>() + max_samples_ * (kActionValues + 1));
  scalars[0] = to_i32(prefix_len, "prefix length");
  scalars[1] = to_i32(rope_base, "rope base");
  cudaStream_t s = stream_.get();
  check_cuda(cudaMemcpyAsync(kv_length_.get(), scalars, 4, cudaMemcpyHostToDevice, s), "upload kv_length");
  check_cuda(cudaMemcpyAsync(position_base_.get(), scalars + 1, 4, cudaMemcpyHostToDevice, s), "upload position_base");
}

void TrtExecutor::expert_velocity(const float* x, int n_samples, float t, int64_t prefix_len, int64_t rope_base,
                                  float* v_out) {
  check_samples(n_samples, "expert_velocity");
  prepare_expert(n_samples, prefix_len, rope_base);
  const size_t n = static_cast<size_t>(n_samples * kActionValues);
  float* hx = host_in_.as<float>();
  float* ht = hx + max_samples_ * kActionValues;
  std::memcpy(hx, x, n * 4);
  std::fill(ht, ht + n_samples, t);
  cudaStream_t s = stream_.get();
  check_cuda(cudaMemcpyAsync(x_.get(), hx, n * 4, cudaMemcpyHostToDevice, s), "upload x");
  check_cuda(cudaMemcpyAsync(t_.get(), ht, static_cast<size_t>(n_samples) * 4, cudaMemcpyHostToDevice, s), "upload t");
  enqueue(expert_, "expert_velocity");
  check_cuda(cudaMemcpyAsync(host_out_.get(), v_.get(), n * 4, cudaMemcpyDeviceToHost, s), "download velocity");
  stream_.synchronize("expert_velocity");
  std::memcpy(v_out, host_out_.get(), n * 4);
}

void TrtExecutor::denoise(float* x, int n_samples, int steps, int64_t prefix_len, int64_t rope_base) {
  check_samples(n_samples, "denoise");
  if (steps <= 0) fail(ErrorCode::InvalidInput, "denoise: steps must be positive, got " + std::to_string(steps));
  prepare_expert(n_samples, prefix_len, rope_base);
  const size_t n = static_cast<size_t>(n_samples * kActionValues);
  cudaStream_t s = stream_.get();
  std::memcpy(host_in_.get(), x, n * 4);
  check_cuda(cudaMemcpyAsync(x_.get(), host_in_.get(), n * 4, cudaMemcpyHostToDevice, s), "upload x");

  auto key = std::make_pair(n_samples, steps);
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    DenoiseGraph g;
    const float dt = 1.0f / static_cast<float>(steps);
    // t_i = i * dt for every sample, uploaded once: the graph reads step i's row.
    std::vector<float> schedule(static_cast<size_t>(steps) * static_cast<size_t>(n_samples));
    for (int i = 0; i < steps; ++i)
      std::fill_n(schedule.begin() + static_cast<std::ptrdiff_t>(i) * n_samples, n_samples, static_cast<float>(i) * dt);
    g.t_schedule = DeviceBuffer(schedule.size() * 4, "denoise t schedule");
    check_cuda(cudaMemcpy(g.t_schedule.get(), schedule.data(), schedule.size() * 4, cudaMemcpyHostToDevice),
               "upload t schedule");
    auto& ctx = *expert_.context;
    const auto& spec = *expert_.spec;
    // One uncaptured run with these shapes first: TensorRT may do shape-dependent setup (and
    // synchronous work) on the first enqueue, which is illegal inside a capture. It only writes v_.
    set_address(ctx, spec, N::kT, g.t_schedule.get());
    enqueue(expert_, "denoise warm-up");
    stream_.synchronize("denoise warm-up");
    float* xd = x_.as<float>();
    const float* vd = v_.as<float>();
    g.graph = CudaGraph::capture(s, "denoise graph capture", [&] {
      for (int i = 0; i < steps; ++i) {
        set_address(ctx, spec, N::kT, g.t_schedule.as<float>() + static_cast<size_t>(i) * n_samples);
        enqueue(expert_, "denoise capture");
        alp::cuda::launch_euler_update(xd, vd, dt, static_cast<int64_t>(n), s);
      }
    });
    set_address(ctx, spec, N::kT, t_.get());
    it = graphs_.emplace(key, std::move(g)).first;
  }
  it->second.graph.launch(s, "denoise graph launch");
  check_cuda(cudaMemcpyAsync(host_out_.get(), x_.get(), n * 4, cudaMemcpyDeviceToHost, s), "download x");
  stream_.synchronize("denoise");
  std::memcpy(x, host_out_.get(), n * 4);
}

uint64_t TrtExecutor::weight_bytes() const { return vision_.plan_bytes + llm_.plan_bytes + expert_.plan_bytes; }

uint64_t TrtExecutor::cache_bytes() const {
  uint64_t activations = 0;
  for (const LoadedEngine* e : {&vision_, &llm_, &expert_})
    activations += static_cast<uint64_t>(std::max<int64_t>(e->engine->getDeviceMemorySizeV2(), 0));
  return kv_.bytes() + activations;
}

}  // namespace alp::trt
