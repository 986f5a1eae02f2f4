#pragma once
// The TensorRT executor: drives the three engines `alpamayo-trt build-engines` exports (vision one image
// per call, llm with the functional "concat" KV cache, expert_step one sample per call) on one CUDA
// stream. Host-side inputs (M-RoPE and vision rope tables, pos-embed taps, image-pad rows) come from
// the same native/model functions the CPU and CUDA executors use. The KV cache is two buffers (ping-pong,
// engine_kv_ping_pong.hpp); the expert reads the current one in place. Each engine has one execution
// context per optimization profile, selected once at load; all contexts of the three engines share
// one user-managed activation block (they run one at a time on one stream).
// I/O contract: engines/README.md.
#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backends/cuda/resources.hpp"
#include "backends/trt/engine_loader.hpp"
#include "backends/trt/trt_logger.hpp"
#include "core/engine_kv_ping_pong.hpp"
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
  // The engines carry one sequence (batch 1): one lane at a time.
  int max_lanes() const override { return 1; }
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
  void grow_kv(int64_t rows);
  // Binds past_* of `layers` layers of `e` to `buffer` with shape [rows, kv_heads, head_dim].
  void bind_past(Ctx c, int64_t layers, int buffer, int64_t rows);
  std::vector<float> run_llm(std::span<const int64_t> ids, const model::MropePositions& pos, int64_t past_len,
                             bool prefill);
  void bind_expert(Ctx c, int64_t prefix_len);
  void upload_expert_rope(int64_t rope_base);

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
  int64_t expert_min_prefix_ = 1, expert_max_prefix_ = 0;
  size_t act_size_ = 4;  // bytes per element of image_embeds / deepstack_embeds

  engine::KvPingPong kv_;
  cuda::DeviceBuffer kv_buffers_[2];
  // vision inputs: per-image pixel slots and table slices, each 256-byte aligned; embeds_scratch_
  // receives an image's image_embeds when its row offset in image_embeds_ is not aligned
  cuda::DeviceBuffer pixels_, vision_pos_idx_, vision_pos_w_, vision_cos_, vision_sin_, deepstack_scratch_, embeds_scratch_;
  // vision outputs = llm inputs: [rows of all images, hidden] and [n_deepstack, rows of all images, hidden]
  cuda::DeviceBuffer image_embeds_, deepstack_;
  int64_t image_rows_ = 0;  // rows the last encode_images() produced; 0: none
  // llm
  cuda::DeviceBuffer ids_, rope_cos_, rope_sin_, image_positions_, logits_;
  int64_t prompt_len_ = 0;
  std::vector<float> prompt_logits_;  // the prompt's last logits, for start_lanes()
  // expert: bound once per denoise; `t` is one aligned element that each step fills from t_schedule_
  cuda::DeviceBuffer x_, v_, t_, t_schedule_, expert_cos_, expert_sin_;
  int t_schedule_steps_ = 0;  // steps t_schedule_ holds flow_time_steps(...) for
  // Page-locked staging for every upload/download of a call. Each call synchronises before it returns,
  // so the next may reuse (or grow) it.
  cuda::PinnedBuffer host_;

  cuda::Stream stream_;
};

}  // namespace alp::trt
