#include "backends/trt/trt_executor.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <tuple>
#include <utility>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/denoise_update.hpp"
#include "backends/cuda/token_select_kernel.hpp"
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

// Sizes of `input`'s axis `axis` the profile admits: its range when dynamic, else the static size.
std::pair<int64_t, int64_t> dim_range(const engine::EngineSpec& e, int profile, std::string_view input, size_t axis) {
  const auto& inputs = e.profiles.at(static_cast<size_t>(profile)).inputs;
  auto it = inputs.find(input);
  if (it != inputs.end()) return {it->second.min.at(axis), it->second.max.at(axis)};
  const int64_t d = e.io_tensor(input).shape.at(axis);
  return {d, d};
}
std::pair<int64_t, int64_t> first_dim_range(const engine::EngineSpec& e, int profile, std::string_view input) {
  return dim_range(e, profile, input, 0);
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
  // pixel_values [images, patches per image, patch_dim]: the profile bounds both.
  if (vision.io_tensor(N::kPixelValues).shape.size() != 3)
    fail(ErrorCode::InvalidEngine, "engine vision tensor pixel_values: rank " + std::to_string(vision.io_tensor(N::kPixelValues).shape.size()) +
                                       ", expected [images, patches, patch_dim] (re-export the engines)");
  std::tie(min_patches_, max_patches_) = dim_range(vision, 0, N::kPixelValues, 1);
  max_images_ = dim_range(vision, 0, N::kPixelValues, 0).second;
  if (max_images_ < 1) fail(ErrorCode::InvalidEngine, "engine vision: the profile takes no image");
  prefill_profile_ = llm.profile_index("prefill");
  decode_profile_ = llm.profile_index("decode");
  max_seq_ = first_dim_range(llm, prefill_profile_, N::kInputIds).second;
  max_image_rows_ = first_dim_range(llm, prefill_profile_, N::kImagePositions).second;
  deepstack_layers_ = vision.io_tensor(N::kDeepstackEmbeds).shape.at(0);
  act_size_ = engine::manifest_dtype_size(vision.io_tensor(N::kImageEmbeds).dtype);
  action_dims_ = expert.io_tensor(N::kX).shape.at(1);
  waypoints_ = cfg_.action_space.n_waypoints;
  while (expert.find_io(N::past_key(expert_layers_))) ++expert_layers_;
  // Lanes per call: what both the decode and the expert profiles take.
  max_lanes_ = static_cast<int>(std::min(first_dim_range(llm, decode_profile_, N::kKvWriteIndex).second,
                                         first_dim_range(expert, 0, N::kKvWriteIndex).second));
  if (max_lanes_ < 1) fail(ErrorCode::InvalidEngine, "engines llm/expert_step: the decode and expert profiles take no lane");
  // In place: each present_* must be the engine's alias of the same layer's past_* (TensorRT >= 10.15
  // lowers TensorScatter to IKVCacheUpdateLayer), which the runner binds to one address.
  for (const LoadedEngine* le : {&llm_, &expert_}) {
    const int64_t layers = le == &llm_ ? manifest_.kv_cache.layers : expert_layers_;
    for (int64_t l = 0; l < layers; ++l)
      for (const bool value : {false, true}) {
        const std::string present = value ? N::present_value(l) : N::present_key(l), past = value ? N::past_value(l) : N::past_key(l);
        const char* alias = le->engine->getAliasedInputTensor(present.c_str());
        if (!alias || past != alias)
          fail(ErrorCode::InvalidEngine, "engine " + le->spec->name + " tensor " + present + ": aliases " +
                                             (alias ? std::string(alias) : std::string("no input")) + ", expected " + past +
                                             " (an in-place KV cache needs TensorRT >= 10.15 and a TensorScatter export)");
      }
  }

  const int64_t hd = cfg_.text.head_dim, ehd = cfg_.expert.head_dim, vocab = manifest_.vocab_size;
  const int64_t rows = std::max<int64_t>(max_seq_, max_lanes_);
  const size_t n_action = static_cast<size_t>(max_lanes_ * waypoints_ * action_dims_) * 4;
  ids_ = cuda::DeviceBuffer(static_cast<size_t>(rows) * 8, "llm input_ids");
  rope_cos_ = cuda::DeviceBuffer(static_cast<size_t>(rows * hd) * 4, "llm rope_cos");
  rope_sin_ = cuda::DeviceBuffer(static_cast<size_t>(rows * hd) * 4, "llm rope_sin");
  write_index_ = cuda::DeviceBuffer(static_cast<size_t>(max_lanes_) * 8, "llm kv_write_index");
  expert_index_ = cuda::DeviceBuffer(static_cast<size_t>(max_lanes_) * 8, "expert kv_write_index");
  no_rows_ = cuda::DeviceBuffer(kTensorAlignment, "empty image inputs");
  // At least one element each: a decode step binds them with 0 rows, and an empty tensor still gets an address.
  image_positions_ = cuda::DeviceBuffer(static_cast<size_t>(std::max<int64_t>(max_image_rows_, 1)) * 8, "llm image_positions");
  ensure(image_embeds_, act_size_, "image_embeds");
  ensure(deepstack_, act_size_, "deepstack_embeds");
  logits_ = cuda::DeviceBuffer(static_cast<size_t>(max_lanes_ * vocab) * 4, "llm logits");
  prompt_logits_ = cuda::DeviceBuffer(static_cast<size_t>(vocab) * 4, "prompt logits");
  if (vocab > INT32_MAX) fail(ErrorCode::InvalidEngine, "engine llm: " + std::to_string(vocab) + " ids do not fit int32 token ids");
  const size_t sel_in = static_cast<size_t>(max_lanes_) * sizeof(cuda::SelectLaneInput);
  const size_t sel_out = static_cast<size_t>(max_lanes_) * sizeof(model::LaneSelection);
  select_in_ = cuda::DeviceBuffer(sel_in, "token selection input");
  select_out_ = cuda::DeviceBuffer(sel_out, "token selection output");
  select_scratch_ = cuda::DeviceBuffer(static_cast<size_t>(max_lanes_ * vocab) * sizeof(double), "token selection scratch");
  select_host_ = cuda::PinnedBuffer(align_up(sel_in) + sel_out, "token selection staging");
  x_ = cuda::DeviceBuffer(n_action, "expert x");
  v_ = cuda::DeviceBuffer(n_action, "expert velocity");
  t_ = cuda::DeviceBuffer(4, "expert t");  // cudaMalloc: 256-byte aligned
  expert_cos_ = cuda::DeviceBuffer(static_cast<size_t>(max_lanes_ * waypoints_ * ehd) * 4, "expert_rope_cos");
  expert_sin_ = cuda::DeviceBuffer(static_cast<size_t>(max_lanes_ * waypoints_ * ehd) * 4, "expert_rope_sin");
}

// The members free device memory and destroy streams: on the runner's device, whichever thread disposes it.
TrtExecutor::~TrtExecutor() {
  try {
    bind_device();
  } catch (...) {  // a destructor must not throw; the frees then report through the CUDA wrappers
  }
}

void TrtExecutor::bind_device() const {
  int current = -1;
  if (cudaGetDevice(&current) != cudaSuccess || current != gpu_.device)
    cuda::check(cudaSetDevice(gpu_.device), "cudaSetDevice");
}

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

// Binds past_* AND present_* of `layers` layers to the in-place blocks with shape [lanes, kv_heads,
// capacity, head_dim]: one address for both (TensorScatter / IKVCacheUpdateLayer writes in place;
// the aliasing was checked at load with getAliasedInputTensor).
void TrtExecutor::bind_kv(Ctx e, int64_t layers, int lanes) {
  const auto& kv = manifest_.kv_cache;
  auto* base = kv_buffer_.as<uint8_t>();
  for (int64_t l = 0; l < layers; ++l) {
    for (const bool value : {false, true}) {
      uint8_t* at = base + kv_.offset(l, value);
      const std::string past = value ? N::past_value(l) : N::past_key(l), present = value ? N::present_value(l) : N::present_key(l);
      set_shape(e, past, {lanes, kv.kv_heads, kv.capacity, kv.head_dim});
      set_address(e, past, at);
      set_address(e, present, at);
    }
  }
}

// ---- KV cache ---------------------------------------------------------------------------------------

void TrtExecutor::reserve(int64_t positions, int lanes) {
  bind_device();
  const int64_t cap = manifest_.kv_cache.capacity;
  // The expert writes its action rows past each lane's prefix, inside the same capacity.
  if (positions + waypoints_ > cap)
    fail(ErrorCode::InvalidInput, "reserve: " + std::to_string(positions) + " cache positions + " + std::to_string(waypoints_) +
                                      " action rows, the engines were built for " + std::to_string(cap) +
                                      " (kv_cache.capacity; rebuild with a larger --profile kv_capacity)");
  if (lanes < 1 || lanes > max_lanes_)
    fail(ErrorCode::InvalidInput, "reserve: " + std::to_string(lanes) + " lanes, the engines' profiles take 1.." + std::to_string(max_lanes_));
  if (kv_buffer_.bytes() > 0 && lanes <= kv_.lanes()) return;
  // Grows only between plans: the contents (a previous request's cache) are not kept. Zeroed once, so
  // stale rows past every lane's length are finite (the graphs mask them with -inf, and 0 * NaN would
  // still poison the softmax-weighted sum).
  sync("KV cache resize");
  decode_graph_ = {};
  denoise_graph_ = {};
  engine::KvLanes next(manifest_.kv_cache, lanes);
  kv_buffer_ = {};
  kv_buffer_ = cuda::DeviceBuffer(next.total_bytes(), "KV cache");
  cuda::check(cudaMemsetAsync(kv_buffer_.get(), 0, next.total_bytes(), stream_.get()), "KV cache zero");
  sync("KV cache zero");
  kv_ = next;
}

// ---- vision -------------------------------------------------------------------------------------------

void TrtExecutor::encode_images(const model::ImageBatch& images) {
  bind_device();
  const int64_t pd = cfg_.vision.patch_dim(), merge = cfg_.vision.merge_unit(), H = manifest_.hidden_size;
  const int64_t n_images = static_cast<int64_t>(images.grids.size());
  if (n_images <= 0 || !images.patches) fail(ErrorCode::InvalidInput, "encode_images: empty image batch");
  std::vector<int64_t> row_at(static_cast<size_t>(n_images) + 1, 0), patch_at(static_cast<size_t>(n_images) + 1, 0);
  for (int64_t i = 0; i < n_images; ++i) {
    const model::ImageGrid& g = images.grids[static_cast<size_t>(i)];
    const int64_t p = g.patches();
    if (p <= 0 || g.t != 1)
      fail(ErrorCode::InvalidInput, "encode_images: image " + std::to_string(i) + " has grid (" + std::to_string(g.t) + ", " +
                                        std::to_string(g.h) + ", " + std::to_string(g.w) + "), expected one frame of >= 1 patch");
    if (p % merge != 0)
      fail(ErrorCode::InvalidInput, "encode_images: " + std::to_string(p) + " patches per image is not a multiple of " +
                                        std::to_string(merge) + " (spatial merge)");
    if (p < min_patches_ || p > max_patches_)
      fail(ErrorCode::InvalidInput, "encode_images: image " + std::to_string(i) + " has " + std::to_string(p) +
                                        " patches, the vision engine's profile takes " + std::to_string(min_patches_) + ".." +
                                        std::to_string(max_patches_));
    patch_at[static_cast<size_t>(i) + 1] = patch_at[static_cast<size_t>(i)] + p;
    row_at[static_cast<size_t>(i) + 1] = row_at[static_cast<size_t>(i)] + p / merge;
  }
  const int64_t total = row_at.back();
  if (total > max_image_rows_)
    fail(ErrorCode::InvalidInput, "encode_images: " + std::to_string(total) + " image tokens, the llm prefill profile takes at most " +
                                      std::to_string(max_image_rows_));

  // One engine call per run of consecutive frames of one grid (the graph's batch axis attends within
  // each frame), at most max_images_ frames each: one call for a plan's 16 camera frames of one size.
  // Every input of a call is one contiguous, 256-byte aligned slice of its buffer.
  struct Call {
    int64_t first = 0, count = 0, patches = 0;
    size_t px = 0, idx = 0, w = 0, cos = 0, sin = 0;
  };
  std::vector<Call> calls;
  for (int64_t i = 0; i < n_images; ++i) {
    const model::ImageGrid& g = images.grids[static_cast<size_t>(i)];
    Call* c = calls.empty() ? nullptr : &calls.back();
    const model::ImageGrid* prev = c ? &images.grids[static_cast<size_t>(c->first)] : nullptr;
    if (c && c->count < max_images_ && prev->h == g.h && prev->w == g.w) ++c->count;
    else calls.push_back({i, 1, g.patches()});
  }
  std::vector<uint8_t> pos_idx, pos_w, cos, sin;
  auto append = [](std::vector<uint8_t>& dst, const auto& v) {
    const size_t start = align_up(dst.size());
    dst.resize(start + v.size() * sizeof(v[0]));
    std::memcpy(dst.data() + start, v.data(), v.size() * sizeof(v[0]));
    return start;
  };
  size_t px_bytes = 0;
  int64_t max_call_rows = 0;
  for (Call& c : calls) {
    std::vector<int64_t> idx_c;
    std::vector<float> w_c, cos_c, sin_c;
    const auto grids = images.grids.subspan(static_cast<size_t>(c.first), static_cast<size_t>(c.count));
    model::vision_pos_interp(cfg_.vision, grids, idx_c, w_c);
    model::vision_rope_tables(cfg_.vision, grids, cos_c, sin_c);
    c.idx = append(pos_idx, idx_c), c.w = append(pos_w, w_c), c.cos = append(cos, cos_c), c.sin = append(sin, sin_c);
    c.px = px_bytes;
    px_bytes = align_up(px_bytes + static_cast<size_t>(c.count * c.patches * pd) * 4);
    max_call_rows = std::max(max_call_rows, c.count * c.patches / merge);
  }
  const int64_t vhd = cfg_.vision.head_dim();
  // The llm's image inputs are the vision outputs' home: [rows of all images, hidden] and
  // [n_deepstack, rows of all images, hidden], image after image. A single call writes both in place.
  // With several calls, image_embeds still lands in place where a call's row offset is 256-byte
  // aligned (else via embeds_scratch_), and deepstack goes through deepstack_scratch_ (its rows of
  // one call are strided across the layers).
  const bool one_call = calls.size() == 1;
  const size_t max_row_block = static_cast<size_t>(max_call_rows * H) * act_size_;
  ensure(pixels_, px_bytes, "pixel_values");
  ensure(vision_pos_idx_, bytes_of(pos_idx), "vision_pos_idx");
  ensure(vision_pos_w_, bytes_of(pos_w), "vision_pos_w");
  ensure(vision_cos_, bytes_of(cos), "vision_rope_cos");
  ensure(vision_sin_, bytes_of(sin), "vision_rope_sin");
  if (!one_call) {
    ensure(embeds_scratch_, max_row_block, "image_embeds scratch");
    ensure(deepstack_scratch_, std::max<size_t>(static_cast<size_t>(deepstack_layers_) * max_row_block, act_size_), "deepstack scratch");
  }
  ensure(image_embeds_, static_cast<size_t>(total * H) * act_size_, "image_embeds");
  ensure(deepstack_, std::max<size_t>(static_cast<size_t>(deepstack_layers_ * total * H) * act_size_, act_size_), "deepstack_embeds");

  uint8_t* h = staging(px_bytes + bytes_of(pos_idx) + bytes_of(pos_w) + bytes_of(cos) + bytes_of(sin));
  size_t at = 0;
  auto stage_upload = [&](const cuda::DeviceBuffer& dst, const void* src, size_t n, const char* what) {
    std::memcpy(h + at, src, n);
    upload(dst, h + at, n, what);
    at += n;
  };
  for (const Call& c : calls)
    std::memcpy(h + at + c.px, images.patches + patch_at[static_cast<size_t>(c.first)] * pd, static_cast<size_t>(c.count * c.patches * pd) * 4);
  upload(pixels_, h + at, px_bytes, "upload pixel_values");
  at += px_bytes;
  stage_upload(vision_pos_idx_, pos_idx.data(), bytes_of(pos_idx), "upload vision_pos_idx");
  stage_upload(vision_pos_w_, pos_w.data(), bytes_of(pos_w), "upload vision_pos_w");
  stage_upload(vision_cos_, cos.data(), bytes_of(cos), "upload vision_rope_cos");
  stage_upload(vision_sin_, sin.data(), bytes_of(sin), "upload vision_rope_sin");

  const Ctx e = ctx(vision_);
  const size_t all_rows_block = static_cast<size_t>(total * H) * act_size_;
  for (const Call& c : calls) {
    const int64_t b = c.count, p = c.patches, rows = b * p / merge;
    const size_t row_block = static_cast<size_t>(rows * H) * act_size_;
    const size_t row_offset = static_cast<size_t>(row_at[static_cast<size_t>(c.first)] * H) * act_size_;
    set_shape(e, N::kPixelValues, {b, p, pd});
    set_shape(e, N::kVisionPosIdx, {b, p, 4});
    set_shape(e, N::kVisionPosW, {b, p, 4});
    set_shape(e, N::kVisionRopeCos, {b, p, vhd});
    set_shape(e, N::kVisionRopeSin, {b, p, vhd});
    // Outputs follow from the input shapes; they must be what the buffers were sized for.
    const Shape got = output_shape(e, N::kImageEmbeds), got_ds = output_shape(e, N::kDeepstackEmbeds);
    if (got != Shape{rows, H} || got_ds != Shape{deepstack_layers_, rows, H})
      fail(ErrorCode::InvalidEngine, "engine vision: outputs " + engine::dims_str(got) + " / " + engine::dims_str(got_ds) +
                                         " for " + std::to_string(b) + " images of " + std::to_string(p) + " patches, expected " +
                                         engine::dims_str({rows, H}) + " / " + engine::dims_str({deepstack_layers_, rows, H}));
    set_address(e, N::kPixelValues, pixels_.as<uint8_t>() + c.px);
    set_address(e, N::kVisionPosIdx, vision_pos_idx_.as<uint8_t>() + c.idx);
    set_address(e, N::kVisionPosW, vision_pos_w_.as<uint8_t>() + c.w);
    set_address(e, N::kVisionRopeCos, vision_cos_.as<uint8_t>() + c.cos);
    set_address(e, N::kVisionRopeSin, vision_sin_.as<uint8_t>() + c.sin);
    uint8_t* embeds_at = image_embeds_.as<uint8_t>() + row_offset;
    const bool in_place = reinterpret_cast<uintptr_t>(embeds_at) % kTensorAlignment == 0;
    set_address(e, N::kImageEmbeds, in_place ? embeds_at : embeds_scratch_.get());
    set_address(e, N::kDeepstackEmbeds, one_call ? deepstack_.get() : deepstack_scratch_.get());
    enqueue(e, "encode_images");
    if (!in_place)
      cuda::check(cudaMemcpyAsync(embeds_at, embeds_scratch_.get(), row_block, cudaMemcpyDeviceToDevice, stream_.get()),
                  "encode_images: image_embeds rows");
    if (!one_call && deepstack_layers_ > 0)
      cuda::check(cudaMemcpy2DAsync(deepstack_.as<uint8_t>() + row_offset, all_rows_block, deepstack_scratch_.get(), row_block,
                                    row_block, static_cast<size_t>(deepstack_layers_), cudaMemcpyDeviceToDevice, stream_.get()),
                  "encode_images: deepstack rows");
  }
  sync("encode_images");
  image_rows_ = total;
}

// ---- llm ---------------------------------------------------------------------------------------------

// Uploads one llm call's host inputs: ids, the M-RoPE tables and kv_write_index.
void TrtExecutor::upload_llm(std::span<const int64_t> ids, const model::MropePositions& pos, std::span<const int64_t> write_index,
                             std::span<const int64_t> image_pos) {
  std::vector<float> cos, sin;
  model::mrope_tables(cfg_.text, pos, cos, sin);
  const size_t ids_bytes = ids.size() * 8, wi_bytes = write_index.size() * 8;
  uint8_t* h = staging(ids_bytes + bytes_of(cos) + bytes_of(sin) + image_pos.size() * 8 + wi_bytes);
  size_t at = 0;
  auto stage_upload = [&](const cuda::DeviceBuffer& dst, const void* src, size_t bytes, const char* label) {
    std::memcpy(h + at, src, bytes);
    upload(dst, h + at, bytes, label);
    at += bytes;
  };
  stage_upload(ids_, ids.data(), ids_bytes, "upload input_ids");
  stage_upload(rope_cos_, cos.data(), bytes_of(cos), "upload rope_cos");
  stage_upload(rope_sin_, sin.data(), bytes_of(sin), "upload rope_sin");
  if (!image_pos.empty()) stage_upload(image_positions_, image_pos.data(), image_pos.size() * 8, "upload image_positions");
  stage_upload(write_index_, write_index.data(), wi_bytes, "upload kv_write_index");
}

// Sets every llm shape and address for `rows` token rows over `lanes` lanes with `image_rows` image rows.
void TrtExecutor::bind_llm(Ctx e, int64_t rows, int lanes, int64_t image_rows) {
  const int64_t hd = cfg_.text.head_dim, H = manifest_.hidden_size;
  set_shape(e, N::kInputIds, {rows});
  set_shape(e, N::kRopeCos, {rows, hd});
  set_shape(e, N::kRopeSin, {rows, hd});
  set_shape(e, N::kImagePositions, {image_rows});
  set_shape(e, N::kImageEmbeds, {image_rows, H});
  set_shape(e, N::kDeepstackEmbeds, {deepstack_layers_, image_rows, H});
  set_shape(e, N::kKvWriteIndex, {lanes});
  bind_kv(e, manifest_.kv_cache.layers, lanes);
  set_address(e, N::kInputIds, ids_.get());
  set_address(e, N::kRopeCos, rope_cos_.get());
  set_address(e, N::kRopeSin, rope_sin_.get());
  // Zero image rows (decode) bind a buffer that never moves: encode_images may reallocate the image
  // buffers, and a captured decode graph must not hold their old address.
  const bool images = image_rows > 0;
  set_address(e, N::kImagePositions, images ? image_positions_.get() : no_rows_.get());
  set_address(e, N::kImageEmbeds, images ? image_embeds_.get() : no_rows_.get());
  set_address(e, N::kDeepstackEmbeds, images ? deepstack_.get() : no_rows_.get());
  set_address(e, N::kKvWriteIndex, write_index_.get());
  set_address(e, N::kLogits, logits_.get());
  if (const Shape got = output_shape(e, N::kLogits); got != Shape{lanes, manifest_.vocab_size})
    fail(ErrorCode::InvalidEngine, "engine llm tensor logits: output shape " + engine::dims_str(got) + " for " + std::to_string(lanes) +
                                       " lanes, expected " + engine::dims_str({lanes, manifest_.vocab_size}));
}

std::vector<int32_t> TrtExecutor::select_on_device(const float* logits, std::span<const int64_t> rows,
                                                   std::span<model::TokenSampler* const> samplers,
                                                   const model::SamplingParams& params, const char* what) {
  const int64_t vocab = manifest_.vocab_size;
  // The host's draws, in row order, exactly where select_tokens would make them (after its parameter
  // check, one per sampled row): the random streams do not depend on where selection runs.
  const std::vector<double> u = model::draw_uniforms(samplers, params);
  std::vector<int32_t> ids(samplers.size(), -1);
  std::vector<size_t> picked;  // the rows with a sampler, in order: one block each
  for (size_t i = 0; i < samplers.size(); ++i)
    if (samplers[i]) picked.push_back(i);
  if (picked.empty()) return ids;
  if (picked.size() > static_cast<size_t>(max_lanes_))
    fail(ErrorCode::Internal, std::string(what) + ": " + std::to_string(picked.size()) + " selections, room for " + std::to_string(max_lanes_));
  const int n = static_cast<int>(picked.size());
  const size_t in_bytes = static_cast<size_t>(n) * sizeof(cuda::SelectLaneInput), out_bytes = static_cast<size_t>(n) * sizeof(model::LaneSelection);
  auto* hin = select_host_.as<cuda::SelectLaneInput>();
  auto* hout = reinterpret_cast<model::LaneSelection*>(select_host_.as<uint8_t>() + align_up(static_cast<size_t>(max_lanes_) * sizeof(cuda::SelectLaneInput)));
  for (int k = 0; k < n; ++k) hin[k] = {rows[picked[static_cast<size_t>(k)]], u[picked[static_cast<size_t>(k)]]};
  upload(select_in_, hin, in_bytes, "upload token selection input");
  // Ordered after whatever wrote `logits` on this stream (the decode graph's replay, or prefill).
  cuda::launch_select_tokens(logits, vocab, vocab, select_in_.as<cuda::SelectLaneInput>(), n, params, select_scratch_.as<double>(),
                             select_out_.as<model::LaneSelection>(), stream_.get());
  cuda::check(cudaMemcpyAsync(hout, select_out_.get(), out_bytes, cudaMemcpyDeviceToHost, stream_.get()), "download token ids");
  sync(what);  // the step's one host sync: K ids
  for (int k = 0; k < n; ++k) {
    model::raise_selection_failure(hout[k]);  // in row order, as select_tokens fails at the first bad row
    ids[picked[static_cast<size_t>(k)]] = hout[k].id;
  }
  return ids;
}

void TrtExecutor::prefill(std::span<const int32_t> ids, const model::PositionIds& pos) {
  bind_device();
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n == 0) fail(ErrorCode::InvalidInput, "prefill: empty token sequence");
  if (pos.size() != ids.size() || pos.h.size() != ids.size() || pos.w.size() != ids.size())
    fail(ErrorCode::InvalidInput, "prefill: " + std::to_string(pos.size()) + " positions for " + std::to_string(ids.size()) + " tokens");
  if (n > max_seq_)
    fail(ErrorCode::InvalidInput, "prefill: " + std::to_string(n) + " tokens, the llm prefill profile takes at most " + std::to_string(max_seq_));
  if (kv_buffer_.bytes() == 0) reserve(n, 1);
  // As in backbone_forward: image-pad ids take the encoded rows in order; without encoded images a
  // pad id is an ordinary token.
  std::vector<int64_t> image_pos;
  for (int64_t i = 0; image_rows_ > 0 && i < n; ++i)
    if (ids[static_cast<size_t>(i)] == cfg_.image_token_id) image_pos.push_back(i);
  const int64_t k = static_cast<int64_t>(image_pos.size());
  if (k > 0 && k != image_rows_)
    fail(ErrorCode::InvalidInput, "prefill: " + std::to_string(k) + " <|image_pad|> tokens but encode_images produced " +
                                      std::to_string(image_rows_) + " image embeddings");
  kv_.prefill(n);  // lane 0, rows [0, n): written once, shared with the other lanes by start_lanes
  const std::vector<int64_t> ids64(ids.begin(), ids.end());
  const int64_t zero[1] = {0};
  upload_llm(ids64, pos, zero, image_pos);
  const Ctx e = ctx(llm_, prefill_profile_);
  bind_llm(e, n, 1, k);
  enqueue(e, "prefill");
  // The prompt's logits stay on the device for start_lanes (decode overwrites logits_).
  cuda::check(cudaMemcpyAsync(prompt_logits_.get(), logits_.get(), static_cast<size_t>(manifest_.vocab_size) * 4,
                              cudaMemcpyDeviceToDevice, stream_.get()),
              "keep the prompt's logits");
  sync("prefill");
  prompt_len_ = n;
  lanes_ = 0;
}

std::vector<int32_t> TrtExecutor::start_lanes(std::span<model::TokenSampler* const> samplers, const model::SamplingParams& params) {
  bind_device();
  if (prompt_len_ == 0) fail(ErrorCode::Internal, "start_lanes before prefill");
  const int n = static_cast<int>(samplers.size());
  if (n < 1 || n > max_lanes_)
    fail(ErrorCode::Internal, "start_lanes: " + std::to_string(n) + " lanes, the engines take 1.." + std::to_string(max_lanes_));
  if (n > kv_.lanes())  // growing now would drop the prompt's cache
    fail(ErrorCode::Internal, "start_lanes: " + std::to_string(n) + " lanes but reserve() made room for " + std::to_string(kv_.lanes()));
  kv_.share(n, prompt_len_);
  // The prompt, computed once into lane 0, copied into lanes 1..n-1 once per request (not per step):
  // per layer and K/V, kv_heads runs of prompt rows, pitch = one head's capacity.
  const size_t width = static_cast<size_t>(prompt_len_) * kv_.row_bytes(), pitch = kv_.head_pitch();
  for (int64_t l = 0; l < manifest_.kv_cache.layers; ++l)
    for (const bool value : {false, true}) {
      uint8_t* block = kv_buffer_.as<uint8_t>() + kv_.offset(l, value);
      for (int b = 1; b < n; ++b)
        cuda::check(cudaMemcpy2DAsync(block + static_cast<size_t>(b) * kv_.lane_bytes(), pitch, block, pitch, width,
                                      static_cast<size_t>(manifest_.kv_cache.kv_heads), cudaMemcpyDeviceToDevice, stream_.get()),
                    "start_lanes: share the prompt's KV rows");
    }
  sync("start_lanes");
  lanes_ = n;
  lane_pos_.assign(static_cast<size_t>(n), prompt_len_);
  // Every lane draws its first token from the prompt's one row of logits.
  const std::vector<int64_t> rows(samplers.size(), 0);
  return select_on_device(prompt_logits_.as<float>(), rows, samplers, params, "start_lanes");
}

std::vector<int32_t> TrtExecutor::decode(std::span<const model::LaneStep> steps, const model::SamplingParams& params) {
  bind_device();
  if (steps.empty()) fail(ErrorCode::Internal, "decode: no lanes");
  if (lanes_ == 0) fail(ErrorCode::Internal, "decode before start_lanes");
  // Finished lanes are masked, not compacted: every open lane runs in the graph and a lane not listed
  // feeds a pad token at its own length (a row past its valid prefix that nothing reads), but it draws
  // nothing and selects nothing. Compaction would not pay here: lane b's rows are KV block b (the
  // blocks are bound by position), so running only the unfinished lanes means swapping KV rows
  // between lanes (the finished lane's prefix is still the expert's) and permuting the expert's
  // samples; and each new lane count costs a plain enqueue, a capture and an instantiation on the one
  // decode context (the next request, at K lanes, once more). What a finished lane costs in the step
  // is its share of a weight-bandwidth-bound GEMV (nothing) plus reading its own cache (engines/README.md).
  const int K = lanes_;
  std::vector<int64_t> ids(static_cast<size_t>(K), 0), positions(lane_pos_);
  model::MropePositions rope;
  std::vector<int64_t> rope_pos(static_cast<size_t>(K), 0);
  std::vector<int64_t> rows(steps.size());  // each selecting lane's logits row
  for (size_t j = 0; j < steps.size(); ++j) {
    const model::LaneStep& st = steps[j];
    if (st.lane < 0 || st.lane >= K || (j > 0 && st.lane <= steps[j - 1].lane))
      fail(ErrorCode::Internal, "decode: lane " + std::to_string(st.lane) + " of " + std::to_string(K) + " (lanes in increasing order)");
    const size_t b = static_cast<size_t>(st.lane);
    ids[b] = st.id;
    positions[b] = st.cache_pos;
    rope_pos[b] = st.rope_pos;
    rows[j] = st.lane;
  }
  for (int64_t r : rope_pos)
    for (auto* axis : {&rope.t, &rope.h, &rope.w}) axis->push_back(r);
  const std::vector<int64_t> wi = kv_.decode(positions);
  for (const model::LaneStep& st : steps) lane_pos_[static_cast<size_t>(st.lane)] = st.cache_pos + 1;
  upload_llm(ids, rope, wi, {});
  const Ctx e = ctx(llm_, decode_profile_);
  // Shapes and addresses are static for a lane count: the first step runs a plain enqueue (TensorRT
  // does its shape-dependent setup there) and captures a graph; later steps replay it, with ids, rope
  // tables and kv_write_index uploaded to the same device buffers before each replay.
  if (!decode_graph_.valid() || decode_graph_lanes_ != K) {
    decode_graph_ = {};
    bind_llm(e, K, K, 0);
    enqueue(e, "decode");
    decode_graph_ = cuda::GraphExec::capture(stream_.get(), [&] { enqueue(e, "decode (graph capture)"); });
    decode_graph_lanes_ = K;
  } else {
    decode_graph_.launch(stream_.get());
  }
  // Selection follows the replay on the same stream, over the unfinished lanes only (a finished lane
  // is masked in the graph above and selects nothing). It is a separate launch, not part of the
  // graph: the sampling parameters are kernel arguments, fixed in a captured node, and they change
  // between requests; the launch grid (the lanes still selecting) changes within one.
  std::vector<model::TokenSampler*> samplers;
  for (const model::LaneStep& st : steps) samplers.push_back(st.sampler);
  return select_on_device(logits_.as<float>(), rows, samplers, params, "decode");
}

// ---- expert ------------------------------------------------------------------------------------------

// Binds every expert_step tensor for `lanes` samples: past_*/present_* are the backbone blocks
// themselves (each lane's prefix read in place, its action rows written past it).
void TrtExecutor::bind_expert(Ctx e, int lanes) {
  const int64_t rows = lanes * waypoints_, ehd = cfg_.expert.head_dim;
  set_shape(e, N::kX, {rows, action_dims_});
  set_shape(e, N::kExpertRopeCos, {rows, ehd});
  set_shape(e, N::kExpertRopeSin, {rows, ehd});
  set_shape(e, N::kKvWriteIndex, {lanes});
  bind_kv(e, expert_layers_, lanes);
  set_address(e, N::kX, x_.get());
  set_address(e, N::kT, t_.get());
  set_address(e, N::kExpertRopeCos, expert_cos_.get());
  set_address(e, N::kExpertRopeSin, expert_sin_.get());
  set_address(e, N::kKvWriteIndex, expert_index_.get());
  set_address(e, N::kVelocity, v_.get());
}

void TrtExecutor::denoise(float* x, std::span<const model::DenoiseLane> lanes, int steps,
                          const std::function<void()>& before_step) {
  bind_device();
  const int K = static_cast<int>(lanes.size());
  if (K < 1 || K > kv_.lanes())
    fail(ErrorCode::Internal, "denoise: " + std::to_string(K) + " samples, " + std::to_string(kv_.lanes()) + " lanes reserved");
  if (steps <= 0) fail(ErrorCode::InvalidInput, "denoise: steps must be positive, got " + std::to_string(steps));
  std::vector<int64_t> prefixes;
  model::MropePositions rope;
  for (int k = 0; k < K; ++k) {
    const model::DenoiseLane& l = lanes[static_cast<size_t>(k)];
    if (l.lane != k) fail(ErrorCode::Internal, "denoise: sample " + std::to_string(k) + " reads lane " + std::to_string(l.lane) + " (lanes 0..K-1 in order)");
    prefixes.push_back(l.prefix_len);
    // Action token j sits at rope position rope_base + j on all three axes (model::expert_velocity).
    const model::MropePositions p = model::MropePositions::uniform(l.rope_base, waypoints_);
    rope.t.insert(rope.t.end(), p.t.begin(), p.t.end());
    rope.h.insert(rope.h.end(), p.h.begin(), p.h.end());
    rope.w.insert(rope.w.end(), p.w.begin(), p.w.end());
  }
  const std::vector<int64_t> wi = kv_.expert(prefixes, waypoints_);
  // flow_time_steps is the schedule of model::denoise (torch.linspace); dt varies in the last bit.
  const std::vector<float> ts = model::flow_time_steps(steps);
  if (t_schedule_steps_ != steps) {
    denoise_graph_ = {};
    t_schedule_ = cuda::DeviceBuffer(static_cast<size_t>(steps) * 4, "denoise t schedule");
    t_schedule_.upload(ts.data(), static_cast<size_t>(steps) * 4);
    t_schedule_steps_ = steps;
  }
  std::vector<float> cos, sin;
  model::mrope_tables(cfg_.expert, rope, cos, sin);
  const size_t n = static_cast<size_t>(K * waypoints_ * action_dims_);
  uint8_t* h = staging(bytes_of(cos) + bytes_of(sin) + bytes_of(wi) + n * 4);
  std::memcpy(h, cos.data(), bytes_of(cos));
  std::memcpy(h + bytes_of(cos), sin.data(), bytes_of(sin));
  std::memcpy(h + bytes_of(cos) + bytes_of(sin), wi.data(), bytes_of(wi));
  auto* hx = reinterpret_cast<float*>(h + bytes_of(cos) + bytes_of(sin) + bytes_of(wi));
  std::memcpy(hx, x, n * 4);
  upload(expert_cos_, h, bytes_of(cos), "upload expert_rope_cos");
  upload(expert_sin_, h + bytes_of(cos), bytes_of(sin), "upload expert_rope_sin");
  upload(expert_index_, h + bytes_of(cos) + bytes_of(sin), bytes_of(wi), "upload expert kv_write_index");
  upload(x_, hx, n * 4, "upload x");
  // The whole Euler loop is one graph per (lanes, steps): `t` is one aligned element a device copy
  // from the schedule fills before each step, and the prefixes are device values (kv_write_index),
  // so the graph does not depend on them. The first call runs plain enqueues, then captures.
  const Ctx e = ctx(expert_);
  float* xd = x_.as<float>();
  const float* vd = v_.as<float>();
  auto loop = [&](bool check) {
    for (int i = 0; i < steps; ++i) {
      if (check && before_step) before_step();
      cuda::check(cudaMemcpyAsync(t_.get(), t_schedule_.as<float>() + i, 4, cudaMemcpyDeviceToDevice, stream_.get()), "denoise t");
      enqueue(e, "denoise");
      cuda::launch_euler_update(xd, vd, ts[static_cast<size_t>(i) + 1] - ts[static_cast<size_t>(i)], static_cast<int64_t>(n), stream_.get());
    }
  };
  if (!denoise_graph_.valid() || denoise_graph_lanes_ != K) {
    denoise_graph_ = {};
    bind_expert(e, K);
    loop(true);
    cuda::check(cudaMemcpyAsync(hx, x_.get(), n * 4, cudaMemcpyDeviceToHost, stream_.get()), "download x");
    sync("denoise");
    denoise_graph_ = cuda::GraphExec::capture(stream_.get(), [&] { loop(false); });
    denoise_graph_lanes_ = K;
  } else {
    if (before_step) before_step();  // one replay: checked once
    denoise_graph_.launch(stream_.get());
    cuda::check(cudaMemcpyAsync(hx, x_.get(), n * 4, cudaMemcpyDeviceToHost, stream_.get()), "download x");
    sync("denoise");
  }
  std::memcpy(x, hx, n * 4);
}

// ---- accounting --------------------------------------------------------------------------------------

model::ExecutorInfo TrtExecutor::info() const {
  return {"tensorrt", llm_.spec->precision,
          gpu_.name + " (" + engine::sm_name(gpu_.cc) + "), TensorRT " + runtime_version_string()};
}

uint64_t TrtExecutor::weight_bytes() const { return vision_.plan_bytes + llm_.plan_bytes + expert_.plan_bytes; }

uint64_t TrtExecutor::cache_bytes() const { return kv_buffer_.bytes() + context_memory_.bytes(); }

}  // namespace alp::trt
