#include "backends/trt/trt_executor.hpp"

#include <algorithm>
#include <cstring>
#include <tuple>
#include <utility>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/denoise_update.hpp"
#include "core/engine_manifest_check.hpp"
#include "core/error.hpp"
#include "model/expert.hpp"
#include "model/rope_tables.hpp"
#include "model/sampling.hpp"

namespace alp::trt {
namespace {

namespace N = engine::names;

// TensorRT requires every tensor address to be 256-byte aligned.
constexpr uintptr_t kTensorAlignment = 256;
size_t align_up(size_t n) { return (n + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment; }

const engine::ProfileRange& profile_range(const engine::EngineSpec& e, int profile, std::string_view input) {
  const auto& inputs = e.profiles.at(static_cast<size_t>(profile)).inputs;
  auto it = inputs.find(input);
  if (it == inputs.end())
    fail(ErrorCode::InvalidEngine, "engine " + e.name + " profile \"" + e.profiles[static_cast<size_t>(profile)].name +
                                       "\": no range for " + std::string(input));
  return it->second;
}

// Rows of `input`'s first axis the profile admits: its range when dynamic, else the static size.
std::pair<int64_t, int64_t> first_dim_range(const engine::EngineSpec& e, int profile, std::string_view input) {
  const auto& inputs = e.profiles.at(static_cast<size_t>(profile)).inputs;
  auto it = inputs.find(input);
  if (it != inputs.end()) return {it->second.min.at(0), it->second.max.at(0)};
  const int64_t d = e.io_tensor(input).shape.at(0);
  return {d, d};
}

template <class T>
size_t bytes_of(const std::vector<T>& v) {
  return v.size() * sizeof(T);
}

}  // namespace

TrtExecutor::DeviceSelected::DeviceSelected(int device) { cuda::check(cudaSetDevice(device), "cudaSetDevice"); }

TrtExecutor::TrtExecutor(TrtExecutorOptions options)
    : opts_(std::move(options)),
      manifest_(engine::load_engine_manifest(opts_.engine_dir)),
      gpu_(query_gpu(opts_.device)),
      device_selected_(gpu_.device),
      logger_(opts_.log, opts_.log_level) {
  if (!opts_.model_config_sha256.empty() && opts_.model_config_sha256 != manifest_.model_config_sha256)
    fail(ErrorCode::InvalidEngine, "engines in " + opts_.engine_dir + " were built for model config sha256 " +
                                       manifest_.model_config_sha256 + ", the checkpoint's config.json is " +
                                       opts_.model_config_sha256);
  engine::check_model_dims(manifest_, {cfg_.text.hidden_size, cfg_.vocab_size, cfg_.text.num_layers,
                                       cfg_.text.num_kv_heads, cfg_.text.head_dim, cfg_.action_space.n_waypoints,
                                       cfg_.action_dims});
  runtime_.reset(nvinfer1::createInferRuntime(logger_));
  if (!runtime_) fail(ErrorCode::BackendUnavailable, "TensorRT createInferRuntime failed: " + logger_.take_errors());

  vision_ = load_engine(*runtime_, logger_, manifest_.engine(N::kVision), opts_.engine_dir, gpu_);
  llm_ = load_engine(*runtime_, logger_, manifest_.engine(N::kLlm), opts_.engine_dir, gpu_);
  expert_ = load_engine(*runtime_, logger_, manifest_.engine(N::kExpert), opts_.engine_dir, gpu_);
  // Every call runs on stream_ and synchronises before the next starts, so no two contexts ever run
  // at once: one activation block, sized for the largest profile of any engine, serves them all.
  LoadedEngine* const engines[] = {&vision_, &llm_, &expert_};
  int64_t block = 256;
  for (const LoadedEngine* e : engines) block = std::max(block, e->context_memory);
  context_memory_ = cuda::DeviceBuffer(static_cast<size_t>(block), "TensorRT context memory");
  bind_context_memory(engines, context_memory_);
  // Context p runs profile p for its whole life: selected once here, before any shape is set.
  for (LoadedEngine* e : engines)
    for (size_t p = 1; p < e->contexts.size(); ++p)
      if (!e->contexts[p]->setOptimizationProfileAsync(static_cast<int32_t>(p), stream_.get()))
        fail(ErrorCode::Internal, "engine " + e->spec->name + ": cannot select optimization profile \"" +
                                      e->spec->profiles[p].name + "\": " + logger_.take_errors());
  sync("select optimization profiles");

  const auto& vision = *vision_.spec;
  const auto& llm = *llm_.spec;
  const auto& expert = *expert_.spec;
  std::tie(min_patches_, max_patches_) = first_dim_range(vision, 0, N::kPixelValues);
  prefill_profile_ = llm.profile_index("prefill");
  decode_profile_ = llm.profile_index("decode");
  max_seq_ = first_dim_range(llm, prefill_profile_, N::kInputIds).second;
  max_image_rows_ = first_dim_range(llm, prefill_profile_, N::kImagePositions).second;
  deepstack_layers_ = vision.io_tensor(N::kDeepstackEmbeds).shape.at(0);
  act_size_ = engine::manifest_dtype_size(vision.io_tensor(N::kImageEmbeds).dtype);
  const Shape& xs = expert.io_tensor(N::kX).shape;
  waypoints_ = xs.at(0);
  action_dims_ = xs.at(1);
  while (expert.find_io(N::past_key(expert_layers_))) ++expert_layers_;
  std::tie(expert_min_prefix_, expert_max_prefix_) = first_dim_range(expert, 0, N::past_key(0));

  const int64_t hd = cfg_.text.head_dim, ehd = cfg_.expert.head_dim, vocab = manifest_.vocab_size;
  const size_t n_action = static_cast<size_t>(waypoints_ * action_dims_) * 4;
  ids_ = cuda::DeviceBuffer(static_cast<size_t>(max_seq_) * 8, "llm input_ids");
  rope_cos_ = cuda::DeviceBuffer(static_cast<size_t>(max_seq_ * hd) * 4, "llm rope_cos");
  rope_sin_ = cuda::DeviceBuffer(static_cast<size_t>(max_seq_ * hd) * 4, "llm rope_sin");
  // At least one element each: a decode step binds them with 0 rows, and an empty tensor still gets an address.
  image_positions_ = cuda::DeviceBuffer(static_cast<size_t>(std::max<int64_t>(max_image_rows_, 1)) * 8, "llm image_positions");
  ensure(image_embeds_, act_size_, "image_embeds");
  ensure(deepstack_, act_size_, "deepstack_embeds");
  logits_ = cuda::DeviceBuffer(static_cast<size_t>(vocab) * 4, "llm logits");
  x_ = cuda::DeviceBuffer(n_action, "expert x");
  v_ = cuda::DeviceBuffer(n_action, "expert velocity");
  t_ = cuda::DeviceBuffer(4, "expert t");  // cudaMalloc: 256-byte aligned
  expert_cos_ = cuda::DeviceBuffer(static_cast<size_t>(waypoints_ * ehd) * 4, "expert_rope_cos");
  expert_sin_ = cuda::DeviceBuffer(static_cast<size_t>(waypoints_ * ehd) * 4, "expert_rope_sin");
}

TrtExecutor::~TrtExecutor() = default;

// ---- small helpers --------------------------------------------------------------------------------

void TrtExecutor::set_shape(Ctx c, const std::string& tensor, const Shape& shape) {
  if (!c.context.setInputShape(tensor.c_str(), to_dims(shape, tensor)))
    fail(ErrorCode::InvalidInput, "engine " + c.spec.name + " tensor " + tensor + ": shape " + engine::dims_str(shape) +
                                      " is outside the engine's optimization profile: " + logger_.take_errors());
}

void TrtExecutor::set_address(Ctx c, const std::string& tensor, const void* ptr) {
  if (reinterpret_cast<uintptr_t>(ptr) % kTensorAlignment != 0)
    fail(ErrorCode::Internal, "engine " + c.spec.name + " tensor " + tensor + ": address is not " +
                                  std::to_string(kTensorAlignment) + "-byte aligned");
  // TensorRT takes a non-const pointer for inputs too; it does not write them.
  if (!c.context.setTensorAddress(tensor.c_str(), const_cast<void*>(ptr)))
    fail(ErrorCode::Internal, "engine " + c.spec.name + " tensor " + tensor + ": setTensorAddress failed: " +
                                  logger_.take_errors());
}

Shape TrtExecutor::output_shape(Ctx c, const std::string& tensor) {
  return to_shape(c.context.getTensorShape(tensor.c_str()));
}

void TrtExecutor::enqueue(Ctx c, const char* what) {
  if (!c.context.allInputDimensionsSpecified())
    fail(ErrorCode::Internal, "engine " + c.spec.name + ": " + what + " left an input shape unset");
  if (!c.context.enqueueV3(stream_.get()))
    fail(ErrorCode::Internal, "engine " + c.spec.name + ": enqueueV3 failed during " + what + ": " + logger_.take_errors());
}

void TrtExecutor::sync(const char* what) {
  // Errors of asynchronous work (a failing kernel inside an engine) surface here.
  cuda::check(cudaStreamSynchronize(stream_.get()), what);
}

void TrtExecutor::upload(const cuda::DeviceBuffer& dst, const void* src, size_t bytes, const char* what) {
  if (bytes > dst.bytes())
    fail(ErrorCode::Internal, std::string(what) + ": " + std::to_string(bytes) + " bytes into a buffer of " +
                                  std::to_string(dst.bytes()));
  cuda::check(cudaMemcpyAsync(dst.get(), src, bytes, cudaMemcpyHostToDevice, stream_.get()), what);
}

uint8_t* TrtExecutor::staging(size_t bytes) {
  // Called once at the start of a call, when nothing is in flight (every call ends synchronised).
  if (bytes > host_.bytes()) host_ = cuda::PinnedBuffer(std::max(bytes, 2 * host_.bytes()), "TensorRT host staging");
  return host_.as<uint8_t>();
}

void TrtExecutor::ensure(cuda::DeviceBuffer& b, size_t bytes, const char* what) {
  if (bytes > b.bytes()) b = cuda::DeviceBuffer(bytes, what);
}

void TrtExecutor::bind_past(Ctx e, int64_t layers, int buffer, int64_t rows) {
  const auto& kv = manifest_.kv_cache;
  auto* base = kv_buffers_[buffer].as<uint8_t>();
  for (int64_t l = 0; l < layers; ++l) {
    for (const bool value : {false, true}) {
      const std::string name = value ? N::past_value(l) : N::past_key(l);
      set_shape(e, name, {rows, kv.kv_heads, kv.head_dim});
      set_address(e, name, base + kv_.offset(l, value));
    }
  }
}

// ---- KV cache ---------------------------------------------------------------------------------------

void TrtExecutor::grow_kv(int64_t rows) {
  sync("KV cache resize");
  engine::KvPingPong next(manifest_.kv_cache, rows);
  cuda::DeviceBuffer a(next.buffer_bytes(), "KV cache buffer A"), b(next.buffer_bytes(), "KV cache buffer B");
  // Keep the valid rows: the block layout depends on the row count, so each layer's K and V moves.
  if (kv_.valid() > 0) {
    const auto* src = kv_buffers_[kv_.current()].as<uint8_t>();
    for (int64_t l = 0; l < manifest_.kv_cache.layers; ++l)
      for (const bool value : {false, true})
        cuda::check(cudaMemcpyAsync(a.as<uint8_t>() + next.offset(l, value), src + kv_.offset(l, value),
                                    static_cast<size_t>(kv_.valid()) * kv_.row_bytes(), cudaMemcpyDeviceToDevice,
                                    stream_.get()),
                    "KV cache resize copy");
    next.commit(engine::KvPingPong::LlmCall{0, 0, 0, kv_.valid()});
  }
  sync("KV cache resize");
  kv_buffers_[0] = std::move(a);
  kv_buffers_[1] = std::move(b);
  kv_ = next;
}

void TrtExecutor::reserve(int64_t positions, int lanes) {
  if (lanes != 1) fail(ErrorCode::Internal, "reserve: the TensorRT engines run one lane, got " + std::to_string(lanes));
  const int64_t cap = manifest_.kv_cache.capacity;
  if (positions > cap)
    fail(ErrorCode::InvalidInput, "reserve: " + std::to_string(positions) + " cache positions, the engines were built for " +
                                      std::to_string(cap) + " (kv_cache.capacity; rebuild with a larger --profile)");
  if (positions <= kv_.rows()) return;
  grow_kv(std::min(cap, std::max(positions, 2 * kv_.rows())));
}

// ---- vision -------------------------------------------------------------------------------------------

void TrtExecutor::encode_images(const model::ImageBatch& images) {
  const int64_t pd = cfg_.vision.patch_dim(), merge = cfg_.vision.merge_unit(), H = manifest_.hidden_size;
  const int64_t n_images = static_cast<int64_t>(images.grids.size());
  if (n_images <= 0 || !images.patches) fail(ErrorCode::InvalidInput, "encode_images: empty image batch");
  // Each image has its own grid (the processor sizes every frame from its own shape); the graph attends
  // within one image, so images run one per call with their own shapes and table slices.
  std::vector<int64_t> per(static_cast<size_t>(n_images)), row_at(static_cast<size_t>(n_images) + 1, 0),
      patch_at(static_cast<size_t>(n_images) + 1, 0);
  for (int64_t i = 0; i < n_images; ++i) {
    const int64_t p = images.grids[static_cast<size_t>(i)].patches();
    if (p <= 0) fail(ErrorCode::InvalidInput, "encode_images: image " + std::to_string(i) + " has no patches");
    if (p % merge != 0)
      fail(ErrorCode::InvalidInput, "encode_images: " + std::to_string(p) + " patches per image is not a multiple of " +
                                        std::to_string(merge) + " (spatial merge)");
    if (p < min_patches_ || p > max_patches_)
      fail(ErrorCode::InvalidInput, "encode_images: image " + std::to_string(i) + " has " + std::to_string(p) +
                                        " patches, the vision engine's profile takes " + std::to_string(min_patches_) + ".." +
                                        std::to_string(max_patches_));
    per[static_cast<size_t>(i)] = p;
    patch_at[static_cast<size_t>(i) + 1] = patch_at[static_cast<size_t>(i)] + p;
    row_at[static_cast<size_t>(i) + 1] = row_at[static_cast<size_t>(i)] + p / merge;
  }
  const int64_t total = row_at.back(), total_patches = patch_at.back();
  if (total > max_image_rows_)
    fail(ErrorCode::InvalidInput, "encode_images: " + std::to_string(total) + " image tokens, the llm prefill profile takes at most " +
                                      std::to_string(max_image_rows_));

  // Tables per image, each slice 256-byte aligned (TensorRT's requirement for tensor addresses).
  struct TableAt {
    size_t idx = 0, w = 0, cos = 0, sin = 0;
  };
  std::vector<TableAt> table_at(static_cast<size_t>(n_images));
  std::vector<uint8_t> pos_idx, pos_w, cos, sin;
  int64_t vhd = 0;
  auto append = [](std::vector<uint8_t>& dst, const auto& v) {
    const size_t start = (dst.size() + 255) & ~size_t{255};
    dst.resize(start + v.size() * sizeof(v[0]));
    std::memcpy(dst.data() + start, v.data(), v.size() * sizeof(v[0]));
    return start;
  };
  for (int64_t i = 0; i < n_images; ++i) {
    std::vector<int64_t> idx_i;
    std::vector<float> w_i, cos_i, sin_i;
    const std::span<const model::ImageGrid> one = images.grids.subspan(static_cast<size_t>(i), 1);
    model::vision_pos_interp(cfg_.vision, one, idx_i, w_i);
    model::vision_rope_tables(cfg_.vision, one, cos_i, sin_i);
    vhd = static_cast<int64_t>(cos_i.size()) / per[static_cast<size_t>(i)];
    table_at[static_cast<size_t>(i)] = {append(pos_idx, idx_i), append(pos_w, w_i), append(cos, cos_i), append(sin, sin_i)};
  }
  // Each image's pixels start on a 256-byte boundary (a TensorRT binding each).
  std::vector<size_t> px_at(static_cast<size_t>(n_images) + 1, 0);
  for (int64_t i = 0; i < n_images; ++i)
    px_at[static_cast<size_t>(i) + 1] = align_up(px_at[static_cast<size_t>(i)] + static_cast<size_t>(per[static_cast<size_t>(i)] * pd) * 4);
  const size_t px_bytes = px_at.back();
  (void)total_patches;
  const int64_t max_rows = *std::max_element(per.begin(), per.end()) / merge;
  const size_t max_row_block = static_cast<size_t>(max_rows * H) * act_size_;  // one image's rows of one feature layer

  ensure(pixels_, px_bytes, "pixel_values");
  // image_embeds rows land in place where the image's row offset is 256-byte aligned, else via a scratch.
  ensure(embeds_scratch_, max_row_block, "image_embeds scratch");
  ensure(vision_pos_idx_, bytes_of(pos_idx), "vision_pos_idx");
  ensure(vision_pos_w_, bytes_of(pos_w), "vision_pos_w");
  ensure(vision_cos_, bytes_of(cos), "vision_rope_cos");
  ensure(vision_sin_, bytes_of(sin), "vision_rope_sin");
  ensure(deepstack_scratch_, std::max<size_t>(static_cast<size_t>(deepstack_layers_) * max_row_block, act_size_), "deepstack scratch");
  ensure(image_embeds_, static_cast<size_t>(total * H) * act_size_, "image_embeds");
  ensure(deepstack_, std::max<size_t>(static_cast<size_t>(deepstack_layers_ * total * H) * act_size_, act_size_), "deepstack_embeds");

  uint8_t* h = staging(px_bytes + bytes_of(pos_idx) + bytes_of(pos_w) + bytes_of(cos) + bytes_of(sin));
  size_t at = 0;
  auto stage_upload = [&](const cuda::DeviceBuffer& dst, const void* src, size_t n, const char* what) {
    std::memcpy(h + at, src, n);
    upload(dst, h + at, n, what);
    at += n;
  };
  for (int64_t i = 0; i < n_images; ++i)
    std::memcpy(h + at + px_at[static_cast<size_t>(i)], images.patches + patch_at[static_cast<size_t>(i)] * pd,
                static_cast<size_t>(per[static_cast<size_t>(i)] * pd) * 4);
  upload(pixels_, h + at, px_bytes, "upload pixel_values");
  at += px_bytes;
  stage_upload(vision_pos_idx_, pos_idx.data(), bytes_of(pos_idx), "upload vision_pos_idx");
  stage_upload(vision_pos_w_, pos_w.data(), bytes_of(pos_w), "upload vision_pos_w");
  stage_upload(vision_cos_, cos.data(), bytes_of(cos), "upload vision_rope_cos");
  stage_upload(vision_sin_, sin.data(), bytes_of(sin), "upload vision_rope_sin");

  const Ctx e = ctx(vision_);
  set_address(e, N::kDeepstackEmbeds, deepstack_scratch_.get());
  // image_embeds rows land in place; deepstack rows are scattered into the llm's
  // [n_deepstack, all rows, hidden] layout.
  const size_t all_rows_block = static_cast<size_t>(total * H) * act_size_;
  for (int64_t i = 0; i < n_images; ++i) {
    const int64_t p = per[static_cast<size_t>(i)], rows = p / merge;
    const size_t row_block = static_cast<size_t>(rows * H) * act_size_;
    const size_t row_offset = static_cast<size_t>(row_at[static_cast<size_t>(i)] * H) * act_size_;
    set_shape(e, N::kPixelValues, {p, pd});
    set_shape(e, N::kVisionPosIdx, {p, 4});
    set_shape(e, N::kVisionPosW, {p, 4});
    set_shape(e, N::kVisionRopeCos, {p, vhd});
    set_shape(e, N::kVisionRopeSin, {p, vhd});
    // Outputs follow from the input shapes; they must be what the buffers were sized for.
    const Shape got = output_shape(e, N::kImageEmbeds), got_ds = output_shape(e, N::kDeepstackEmbeds);
    if (got != Shape{rows, H} || got_ds != Shape{deepstack_layers_, rows, H})
      fail(ErrorCode::InvalidEngine, "engine vision: outputs " + engine::dims_str(got) + " / " + engine::dims_str(got_ds) +
                                         " for " + std::to_string(p) + " patches, expected " + engine::dims_str({rows, H}) +
                                         " / " + engine::dims_str({deepstack_layers_, rows, H}));
    const TableAt& ta = table_at[static_cast<size_t>(i)];
    set_address(e, N::kVisionPosIdx, vision_pos_idx_.as<uint8_t>() + ta.idx);
    set_address(e, N::kVisionPosW, vision_pos_w_.as<uint8_t>() + ta.w);
    set_address(e, N::kVisionRopeCos, vision_cos_.as<uint8_t>() + ta.cos);
    set_address(e, N::kVisionRopeSin, vision_sin_.as<uint8_t>() + ta.sin);
    uint8_t* embeds_at = image_embeds_.as<uint8_t>() + row_offset;
    const bool in_place = reinterpret_cast<uintptr_t>(embeds_at) % kTensorAlignment == 0;
    set_address(e, N::kPixelValues, pixels_.as<uint8_t>() + px_at[static_cast<size_t>(i)]);
    set_address(e, N::kImageEmbeds, in_place ? embeds_at : embeds_scratch_.get());
    enqueue(e, "encode_images");
    if (!in_place)
      cuda::check(cudaMemcpyAsync(embeds_at, embeds_scratch_.get(), row_block, cudaMemcpyDeviceToDevice, stream_.get()),
                  "encode_images: image_embeds rows");
    if (deepstack_layers_ > 0)
      cuda::check(cudaMemcpy2DAsync(deepstack_.as<uint8_t>() + row_offset, all_rows_block, deepstack_scratch_.get(), row_block,
                                    row_block, static_cast<size_t>(deepstack_layers_), cudaMemcpyDeviceToDevice, stream_.get()),
                  "encode_images: deepstack rows");
  }
  sync("encode_images");
  image_rows_ = total;
}

// ---- llm ---------------------------------------------------------------------------------------------

std::vector<float> TrtExecutor::run_llm(std::span<const int64_t> ids, const model::MropePositions& pos,
                                        int64_t past_len, bool prefill) {
  const int64_t n = static_cast<int64_t>(ids.size());
  const char* what = prefill ? "prefill" : "decode";
  if (n > max_seq_)
    fail(ErrorCode::InvalidInput, std::string(what) + ": " + std::to_string(n) + " tokens, the llm prefill profile takes at most " +
                                      std::to_string(max_seq_));
  // As in backbone_forward: image-pad ids take the encoded rows in order; without encoded images
  // (or in decode) a pad id is an ordinary token.
  std::vector<int64_t> image_pos;
  for (int64_t i = 0; prefill && image_rows_ > 0 && i < n; ++i)
    if (ids[static_cast<size_t>(i)] == cfg_.image_token_id) image_pos.push_back(i);
  const int64_t k = static_cast<int64_t>(image_pos.size());
  if (k > 0 && k != image_rows_)
    fail(ErrorCode::InvalidInput, std::string(what) + ": " + std::to_string(k) + " <|image_pad|> tokens but encode_images produced " +
                                      std::to_string(image_rows_) + " image embeddings");
  if (past_len + n > kv_.rows()) reserve(past_len + n, 1);
  const engine::KvPingPong::LlmCall call = kv_.plan_llm(past_len, n);

  std::vector<float> cos, sin;
  model::mrope_tables(cfg_.text, pos, cos, sin);
  const int64_t vocab = manifest_.vocab_size, H = manifest_.hidden_size;
  const size_t ids_bytes = static_cast<size_t>(n) * 8, logits_bytes = static_cast<size_t>(vocab) * 4;
  uint8_t* h = staging(std::max(ids_bytes + bytes_of(cos) + bytes_of(sin) + bytes_of(image_pos), logits_bytes));
  size_t at = 0;
  auto stage_upload = [&](const cuda::DeviceBuffer& dst, const void* src, size_t bytes, const char* label) {
    std::memcpy(h + at, src, bytes);
    upload(dst, h + at, bytes, label);
    at += bytes;
  };
  stage_upload(ids_, ids.data(), ids_bytes, "upload input_ids");
  stage_upload(rope_cos_, cos.data(), bytes_of(cos), "upload rope_cos");
  stage_upload(rope_sin_, sin.data(), bytes_of(sin), "upload rope_sin");
  if (k > 0) stage_upload(image_positions_, image_pos.data(), bytes_of(image_pos), "upload image_positions");

  // Prefill and decode have a context each (profile selected at load); every shape is set each call.
  const Ctx e = ctx(llm_, prefill ? prefill_profile_ : decode_profile_);
  const int64_t hd = cfg_.text.head_dim;
  set_shape(e, N::kInputIds, {n});
  set_shape(e, N::kRopeCos, {n, hd});
  set_shape(e, N::kRopeSin, {n, hd});
  set_shape(e, N::kImagePositions, {k});
  set_shape(e, N::kImageEmbeds, {k, H});
  set_shape(e, N::kDeepstackEmbeds, {deepstack_layers_, k, H});
  bind_past(e, manifest_.kv_cache.layers, call.past_buffer, call.past_len);
  set_address(e, N::kInputIds, ids_.get());
  set_address(e, N::kRopeCos, rope_cos_.get());
  set_address(e, N::kRopeSin, rope_sin_.get());
  set_address(e, N::kImagePositions, image_positions_.get());
  set_address(e, N::kImageEmbeds, image_embeds_.get());
  set_address(e, N::kDeepstackEmbeds, deepstack_.get());
  set_address(e, N::kLogits, logits_.get());
  const auto& kv = manifest_.kv_cache;
  auto* present = kv_buffers_[call.present_buffer].as<uint8_t>();
  const Shape want{call.present_len, kv.kv_heads, kv.head_dim};
  for (int64_t l = 0; l < kv.layers; ++l) {
    for (const bool value : {false, true}) {
      const std::string name = value ? N::present_value(l) : N::present_key(l);
      // The engine writes past + new rows; more would run past the buffer block.
      if (const Shape got = output_shape(e, name); got != want)
        fail(ErrorCode::InvalidEngine, "engine llm tensor " + name + ": output shape " + engine::dims_str(got) +
                                           " for past " + std::to_string(call.past_len) + " + " + std::to_string(n) +
                                           " tokens, expected " + engine::dims_str(want));
      set_address(e, name, present + kv_.offset(l, value));
    }
  }
  enqueue(e, what);
  cuda::check(cudaMemcpyAsync(h, logits_.get(), logits_bytes, cudaMemcpyDeviceToHost, stream_.get()), "download logits");
  sync(what);
  kv_.commit(call);
  const auto* lf = reinterpret_cast<const float*>(h);
  return std::vector<float>(lf, lf + vocab);
}

void TrtExecutor::prefill(std::span<const int32_t> ids, const model::PositionIds& pos) {
  if (ids.empty()) fail(ErrorCode::InvalidInput, "prefill: empty token sequence");
  if (pos.size() != ids.size() || pos.h.size() != ids.size() || pos.w.size() != ids.size())
    fail(ErrorCode::InvalidInput, "prefill: " + std::to_string(pos.size()) + " positions for " + std::to_string(ids.size()) + " tokens");
  const std::vector<int64_t> ids64(ids.begin(), ids.end());
  kv_.clear();
  prompt_logits_ = run_llm(ids64, pos, 0, /*prefill=*/true);
  prompt_len_ = static_cast<int64_t>(ids.size());
}

std::vector<int32_t> TrtExecutor::start_lanes(std::span<model::TokenSampler* const> samplers, const model::SamplingParams& params) {
  if (prompt_len_ == 0) fail(ErrorCode::Internal, "start_lanes before prefill");
  if (samplers.size() != 1) fail(ErrorCode::Internal, "start_lanes: the TensorRT engines run one lane, got " + std::to_string(samplers.size()));
  // The next decode appends at the prompt's end, which drops the previous lane's tokens.
  if (!samplers[0]) return {-1};
  return model::select_tokens(prompt_logits_, samplers, params);
}

std::vector<int32_t> TrtExecutor::decode(std::span<const model::LaneStep> steps, const model::SamplingParams& params) {
  if (steps.size() != 1 || steps[0].lane != 0)
    fail(ErrorCode::Internal, "decode: the TensorRT engines run one lane, got " + std::to_string(steps.size()) + " steps");
  const model::LaneStep& s = steps[0];
  const int64_t one[1] = {s.id};
  const std::vector<float> logits = run_llm(one, model::MropePositions::uniform(s.rope_pos, 1), s.cache_pos, /*prefill=*/false);
  model::TokenSampler* const draw[1] = {s.sampler};
  return model::select_tokens(logits, draw, params);
}

// ---- expert ------------------------------------------------------------------------------------------

// Binds every expert_step tensor; past_* is the current KV buffer's prefix, bound in place.
void TrtExecutor::bind_expert(Ctx e, int64_t prefix_len) {
  if (prefix_len < expert_min_prefix_ || prefix_len > expert_max_prefix_)
    fail(ErrorCode::InvalidInput, "expert: prefix length " + std::to_string(prefix_len) + ", the expert_step profile takes " +
                                      std::to_string(expert_min_prefix_) + ".." + std::to_string(expert_max_prefix_));
  const int buffer = kv_.expert_buffer(prefix_len);
  bind_past(e, expert_layers_, buffer, prefix_len);
  set_address(e, N::kX, x_.get());
  set_address(e, N::kT, t_.get());
  set_address(e, N::kExpertRopeCos, expert_cos_.get());
  set_address(e, N::kExpertRopeSin, expert_sin_.get());
  set_address(e, N::kVelocity, v_.get());
}

// Action token j sits at rope position rope_base + j on all three axes (model::expert_velocity).
void TrtExecutor::upload_expert_rope(int64_t rope_base) {
  std::vector<float> cos, sin;
  model::mrope_tables(cfg_.expert, model::MropePositions::uniform(rope_base, waypoints_), cos, sin);
  uint8_t* h = staging(bytes_of(cos) + bytes_of(sin) + static_cast<size_t>(waypoints_ * action_dims_) * 4 + 4);
  std::memcpy(h, cos.data(), bytes_of(cos));
  std::memcpy(h + bytes_of(cos), sin.data(), bytes_of(sin));
  upload(expert_cos_, h, bytes_of(cos), "upload expert_rope_cos");
  upload(expert_sin_, h + bytes_of(cos), bytes_of(sin), "upload expert_rope_sin");
}

void TrtExecutor::denoise(float* x, std::span<const model::DenoiseLane> lanes, int steps,
                          const std::function<void()>& before_step) {
  if (lanes.size() != 1 || lanes[0].lane != 0)
    fail(ErrorCode::Internal, "denoise: the TensorRT engines run one lane, got " + std::to_string(lanes.size()) + " samples");
  const int n_samples = 1;
  const int64_t prefix_len = lanes[0].prefix_len, rope_base = lanes[0].rope_base;
  if (steps <= 0) fail(ErrorCode::InvalidInput, "denoise: steps must be positive, got " + std::to_string(steps));
  // flow_time_steps is the schedule of model::denoise (torch.linspace); dt varies in the last bit.
  const std::vector<float> ts = model::flow_time_steps(steps);
  if (t_schedule_steps_ != steps) {
    t_schedule_ = cuda::DeviceBuffer(static_cast<size_t>(steps) * 4, "denoise t schedule");
    t_schedule_.upload(ts.data(), static_cast<size_t>(steps) * 4);
    t_schedule_steps_ = steps;
  }
  // Plain enqueues, every binding made once per call: `t` stays bound to its own aligned element,
  // which a device copy from the schedule fills before each step. (A CUDA graph would bake in the
  // past_* shapes, i.e. the prefix length, which changes with every rollout: capturing per rollout
  // costs more than the launches it saves.)
  const Ctx e = ctx(expert_);
  bind_expert(e, prefix_len);
  upload_expert_rope(rope_base);
  const size_t n = static_cast<size_t>(waypoints_ * action_dims_), tables = static_cast<size_t>(waypoints_ * cfg_.expert.head_dim) * 8;
  auto* hx = reinterpret_cast<float*>(host_.as<uint8_t>() + tables);
  float* xd = x_.as<float>();
  const float* vd = v_.as<float>();
  for (int s = 0; s < n_samples; ++s) {
    std::memcpy(hx, x + static_cast<size_t>(s) * n, n * 4);
    upload(x_, hx, n * 4, "upload x");
    for (int i = 0; i < steps; ++i) {
      if (before_step) before_step();
      cuda::check(cudaMemcpyAsync(t_.get(), t_schedule_.as<float>() + i, 4, cudaMemcpyDeviceToDevice, stream_.get()), "denoise t");
      enqueue(e, "denoise");
      cuda::launch_euler_update(xd, vd, ts[static_cast<size_t>(i) + 1] - ts[static_cast<size_t>(i)], static_cast<int64_t>(n), stream_.get());
    }
    cuda::check(cudaMemcpyAsync(hx, x_.get(), n * 4, cudaMemcpyDeviceToHost, stream_.get()), "download x");
    sync("denoise");
    std::memcpy(x + static_cast<size_t>(s) * n, hx, n * 4);
  }
}

// ---- accounting --------------------------------------------------------------------------------------

model::ExecutorInfo TrtExecutor::info() const {
  return {"tensorrt", llm_.spec->precision,
          gpu_.name + " (" + engine::sm_name(gpu_.cc) + "), TensorRT " + runtime_version_string()};
}

uint64_t TrtExecutor::weight_bytes() const { return vision_.plan_bytes + llm_.plan_bytes + expert_.plan_bytes; }

uint64_t TrtExecutor::cache_bytes() const {
  return kv_buffers_[0].bytes() + kv_buffers_[1].bytes() + context_memory_.bytes();
}

}  // namespace alp::trt
