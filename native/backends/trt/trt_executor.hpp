#pragma once
// The TensorRT executor: drives the three engines `alpamayo-trt build-engines` exports (vision one image
// per call, llm and expert_step over K sample lanes with the in-place fixed-capacity KV cache) on one
// CUDA stream. Host-side inputs (M-RoPE and vision rope tables, pos-embed taps, image-pad rows) come
// from the same native/model functions the CPU and CUDA executors use. The KV cache is one block per
// layer and K/V, [lanes, kv_heads, capacity, head_dim] (engine_kv_lanes.hpp), bound to past_* and
// present_* at one address; the expert reads each lane's prefix in place. Decode (per lane count) and
// the denoise loop (per lane count) are CUDA graphs: their shapes and addresses are static, the
// per-step values (ids, rope rows, kv_write_index, t) are device buffers refreshed before a replay.
// Each engine has one execution context per optimization profile, selected once at load; all contexts
// of the three engines share one user-managed activation block (they run one at a time on one stream).
// I/O contract: engines/README.md.
#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backends/cuda/resources.hpp"
#include "backends/trt/engine_loader.hpp"
#include "backends/trt/trt_logger.hpp"
#include "core/engine_kv_lanes.hpp"
#include "core/engine_manifest.hpp"
#include "model/config.hpp"
#include "model/rope_tables.hpp"
#include "model/executor.hpp"

namespace alp::trt {

struct TrtExecutorOptions {
  std::string engine_dir;
  int device = 0;
  // The checkpoint's configuration: rope tables, the image-pad id and the dimensions checked against
  // the manifest come from it.
  model::ModelConfig config;
  // engine::config_sha256 of the checkpoint's config.json; engines built from another config are
  // refused. Empty: skip.
  std::string model_config_sha256;
  LogSink log;
  LogLevel log_level = LogLevel::Warning;
};

class TrtExecutor final : public model::Executor {
 public:
  // Loads and verifies every engine; throws InvalidEngine / BackendUnavailable (see engine_loader.hpp).
  explicit TrtExecutor(TrtExecutorOptions options);
  ~TrtExecutor() override;
  TrtExecutor(const TrtExecutor&) = delete;
  TrtExecutor& operator=(const TrtExecutor&) = delete;

  model::ExecutorInfo info() const override;
  // Lanes per decode / expert call: the smaller of the decode and expert profiles' lane ranges.
  int max_lanes() const override { return max_lanes_; }
  void reserve(int64_t positions, int lanes) override;
  void encode_images(const model::ImageBatch& images) override;
  void prefill(std::span<const int32_t> ids, const model::PositionIds& pos) override;
  std::vector<int32_t> start_lanes(std::span<model::TokenSampler* const> samplers, const model::SamplingParams& params) override;
  std::vector<int32_t> decode(std::span<const model::LaneStep> steps, const model::SamplingParams& params) override;
  void denoise(float* x, std::span<const model::DenoiseLane> lanes, int steps,
               const std::function<void()>& before_step) override;
  uint64_t weight_bytes() const override;
  uint64_t cache_bytes() const override;

  const engine::EngineManifest& manifest() const { return manifest_; }

 private:
  // One engine's execution context for one profile, with its manifest entry (for messages).
  struct Ctx {
    nvinfer1::IExecutionContext& context;
    const engine::EngineSpec& spec;
  };
  static Ctx ctx(LoadedEngine& e, int profile = 0) { return {*e.contexts.at(static_cast<size_t>(profile)), *e.spec}; }
  // cudaSetDevice before any member that creates a CUDA object (buffers, the stream) exists.
  struct DeviceSelected {
    explicit DeviceSelected(int device);
  };

  void set_shape(Ctx c, const std::string& tensor, const Shape& shape);
  void set_address(Ctx c, const std::string& tensor, const void* ptr);
  static Shape output_shape(Ctx c, const std::string& tensor);
  void enqueue(Ctx c, const char* what);
  void sync(const char* what);
  void upload(const cuda::DeviceBuffer& dst, const void* src, size_t bytes, const char* what);
  uint8_t* staging(size_t bytes);
  void ensure(cuda::DeviceBuffer& b, size_t bytes, const char* what);
  // Binds past_*/present_* of `layers` layers to the KV blocks, shape [lanes, kv_heads, capacity, head_dim].
  void bind_kv(Ctx c, int64_t layers, int lanes);
  void upload_llm(std::span<const int64_t> ids, const model::MropePositions& pos, std::span<const int64_t> write_index,
                  std::span<const int64_t> image_pos);
  void bind_llm(Ctx c, int64_t rows, int lanes, int64_t image_rows);
  std::vector<float> download_logits(int lanes, const char* what);
  void bind_expert(Ctx c, int lanes);

  TrtExecutorOptions opts_;
  const model::ModelConfig& cfg_ = opts_.config;
  engine::EngineManifest manifest_;
  GpuInfo gpu_;
  DeviceSelected device_selected_;
  Logger logger_;
  // Declaration order is destruction order reversed: the stream (which syncs) goes before the
  // buffers bound to the contexts, contexts before engines, engines before the runtime.
  TrtPtr<nvinfer1::IRuntime> runtime_;
  cuda::DeviceBuffer context_memory_;  // bound to every context below: freed after them
  LoadedEngine vision_, llm_, expert_;
  int prefill_profile_ = 0, decode_profile_ = 0;

  // Limits read from the manifest's profiles.
  int64_t min_patches_ = 0, max_patches_ = 0, max_seq_ = 0, max_image_rows_ = 0;
  int64_t deepstack_layers_ = 0, expert_layers_ = 0, waypoints_ = 0, action_dims_ = 0;
  int max_lanes_ = 1;
  size_t act_size_ = 4;  // bytes per element of image_embeds / deepstack_embeds

  engine::KvLanes kv_;
  cuda::DeviceBuffer kv_buffer_;  // every layer's K and V block (kv_.offset), zeroed at allocation
  // vision inputs: per-image pixel slots and table slices, each 256-byte aligned; embeds_scratch_
  // receives an image's image_embeds when its row offset in image_embeds_ is not aligned
  cuda::DeviceBuffer pixels_, vision_pos_idx_, vision_pos_w_, vision_cos_, vision_sin_, deepstack_scratch_, embeds_scratch_;
  // vision outputs = llm inputs: [rows of all images, hidden] and [n_deepstack, rows of all images, hidden]
  cuda::DeviceBuffer image_embeds_, deepstack_;
  int64_t image_rows_ = 0;  // rows the last encode_images() produced; 0: none
  // llm
  cuda::DeviceBuffer ids_, rope_cos_, rope_sin_, image_positions_, write_index_, logits_;
  cuda::DeviceBuffer no_rows_;  // the address of decode's 0-row image inputs
  int64_t prompt_len_ = 0;
  std::vector<float> prompt_logits_;  // the prompt's last logits, for start_lanes()
  int lanes_ = 0;                     // lanes start_lanes() opened
  std::vector<int64_t> lane_pos_;     // each open lane's next cache position (its valid length)
  // expert: `t` is one aligned element that each step fills from t_schedule_; kv_write_index = prefixes
  cuda::DeviceBuffer x_, v_, t_, t_schedule_, expert_cos_, expert_sin_, expert_index_;
  int t_schedule_steps_ = 0;  // steps t_schedule_ holds flow_time_steps(...) for
  // Graphs over static shapes and addresses: dropped when the KV buffer or the schedule is replaced.
  cuda::GraphExec decode_graph_, denoise_graph_;
  int decode_graph_lanes_ = 0, denoise_graph_lanes_ = 0;
  // Page-locked staging for every upload/download of a call. Each call synchronises before it returns,
  // so the next may reuse (or grow) it.
  cuda::PinnedBuffer host_;

  cuda::Stream stream_;
};

}  // namespace alp::trt
