#pragma once
// The TensorRT executor: three engines (vision, llm, expert_step) from a verified engines directory,
// one CUDA stream, device buffers and the backbone KV cache preallocated at load, and the denoising
// loop captured once per sample count into a CUDA graph. I/O contract: engines/README.md.
#include <cstdint>
#include <map>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include "backends/trt/cuda_resources.hpp"
#include "backends/trt/engine_loader.hpp"
#include "backends/trt/trt_logger.hpp"
#include "core/engine_manifest.hpp"
#include "pipeline/executor.hpp"

namespace alp::trt {

struct TrtExecutorOptions {
  std::string engine_dir;
  int device = 0;
  // Token id whose positions take the encoded image rows in order (Qwen3-VL <|image_pad|>).
  int32_t image_pad_id = 151655;
  // sha256 of the checkpoint's config.json; engines built from another config are refused. Empty: skip.
  std::string model_config_sha256;
  LogSink log;
  LogLevel log_level = LogLevel::Warning;
};

class TrtExecutor final : public pipeline::Executor {
 public:
  // Loads and verifies every engine; throws InvalidEngine / BackendUnavailable (see engine_loader.hpp).
  explicit TrtExecutor(TrtExecutorOptions options);
  ~TrtExecutor() override;
  TrtExecutor(const TrtExecutor&) = delete;
  TrtExecutor& operator=(const TrtExecutor&) = delete;

  pipeline::ExecutorInfo info() const override;
  void reserve(int64_t positions) override;
  void encode_images(const pipeline::ImageBatch& images) override;
  std::vector<float> prefill(std::span<const int32_t> ids, const pipeline::PositionIds& pos) override;
  std::vector<float> decode(int32_t id, int64_t cache_pos, int64_t rope_pos) override;
  void expert_velocity(const float* x, int n_samples, float t, int64_t prefix_len, int64_t rope_base,
                       float* v_out) override;
  void denoise(float* x, int n_samples, int steps, int64_t prefix_len, int64_t rope_base) override;
  uint64_t weight_bytes() const override;
  uint64_t cache_bytes() const override;

  const engine::EngineManifest& manifest() const { return manifest_; }
  std::vector<std::string> warnings() const { return logger_.warnings(); }

 private:
  // One captured loop per (sample count, steps): the graph bakes in tensor shapes and addresses.
  struct DenoiseGraph {
    DeviceBuffer t_schedule;  // [steps][n_samples] flow times, written once before capture
    CudaGraph graph;
  };

  void allocate_buffers();
  void bind_kv(nvinfer1::IExecutionContext& ctx, bool with_present);
  void set_shape(nvinfer1::IExecutionContext& ctx, const engine::EngineSpec& spec, const char* tensor,
                 const Shape& shape);
  void set_address(nvinfer1::IExecutionContext& ctx, const engine::EngineSpec& spec, const std::string& tensor,
                   void* ptr);
  void enqueue(LoadedEngine& e, const char* what);
  std::vector<float> run_llm(int64_t n_tokens, int64_t write_index, const char* profile);
  void prepare_expert(int n_samples, int64_t prefix_len, int64_t rope_base);
  void check_samples(int n_samples, const char* what) const;

  TrtExecutorOptions opts_;
  engine::EngineManifest manifest_;
  GpuInfo gpu_;
  Logger logger_;
  // Declaration order is destruction order reversed: graphs and buffers go before the contexts that
  // were bound to them, engines before the runtime, and the stream (which syncs) before all buffers.
  TrtPtr<nvinfer1::IRuntime> runtime_;
  LoadedEngine vision_, llm_, expert_;
  int llm_profile_ = -1;  // profile currently selected on llm_.context

  // Limits from the manifest's profiles.
  int64_t max_patches_ = 0, patch_dim_ = 0, max_images_ = 0;
  int64_t max_image_rows_ = 0, deepstack_layers_ = 0;
  int64_t max_prefill_ = 0, max_samples_ = 0;
  size_t act_size_ = 2;  // bytes per element of the kv/activation dtype

  DeviceBuffer kv_;  // [layers][K|V][1, kv_heads, capacity, head_dim]
  DeviceBuffer pixels_, grid_, image_embeds_, deepstack_;
  DeviceBuffer ids_, positions_, image_index_, write_index_, logits_;
  DeviceBuffer x_, v_, t_, kv_length_, position_base_;
  // Page-locked staging. Inputs of one call sit at distinct offsets of host_in_; every call
  // synchronises before returning, so the next call may reuse them.
  PinnedBuffer host_in_, host_out_;
  int64_t image_rows_ = 0;  // rows produced by the last encode_images(); 0 = none pending

  std::map<std::pair<int, int>, DenoiseGraph> graphs_;
  CudaStream stream_;
};

}  // namespace alp::trt
