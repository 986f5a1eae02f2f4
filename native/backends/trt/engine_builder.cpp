#include "backends/trt/engine_builder.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "backends/cuda/cuda_check.hpp"
#include "backends/trt/engine_loader.hpp"
#include "backends/trt/trt_common.hpp"
#include "core/engine_manifest_check.hpp"
#include "core/error.hpp"
#include "core/sha256.hpp"

#if ALPAMAYO_HAVE_ONNXPARSER
#include <NvOnnxParser.h>
#endif

namespace alp::trt {
namespace {

// Forwards builder phases to the caller. TensorRT may call from its worker threads; the callback is
// serialised here so callers need no locking.
class ProgressMonitor final : public nvinfer1::IProgressMonitor {
 public:
  explicit ProgressMonitor(const BuildProgressFn& fn) : fn_(fn) {}

  void phaseStart(char const* phase, char const* /*parent*/, int32_t steps) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    totals_.emplace_back(phase ? phase : "", steps);
    report(phase, 0, steps);
  }
  bool stepComplete(char const* phase, int32_t step) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    int32_t total = 0;
    for (const auto& [name, n] : totals_)
      if (phase && name == phase) total = n;
    return report(phase, step + 1, total) && !cancelled_;
  }
  void phaseFinish(char const* phase) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = totals_.begin(); it != totals_.end(); ++it)
      if (phase && it->first == phase) {
        totals_.erase(it);
        break;
      }
  }
  bool cancelled() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

 private:
  bool report(char const* phase, int32_t step, int32_t total) noexcept {
    if (!fn_ || cancelled_) return !cancelled_;
    try {
      if (!fn_(phase ? phase : "", step, total)) cancelled_ = true;
    } catch (...) {
      cancelled_ = true;  // an exception must not cross TensorRT's noexcept boundary
    }
    return !cancelled_;
  }

  const BuildProgressFn& fn_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, int32_t>> totals_;
  bool cancelled_ = false;
};

nvinfer1::NetworkDefinitionCreationFlags network_flags() {
#if NV_TENSORRT_MAJOR >= 11
  return 0;  // strongly typed is the only mode; kSTRONGLY_TYPED is deprecated and ignored
#else
  // kEXPLICIT_BATCH is deprecated (always on) in 10; strongly typed must be requested.
  return 1U << static_cast<uint32_t>(nvinfer1::NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);
#endif
}

std::vector<engine::IoTensorSpec> network_io(const nvinfer1::INetworkDefinition& net) {
  std::vector<engine::IoTensorSpec> io;
  auto add = [&](const nvinfer1::ITensor* t, engine::TensorMode mode) {
    io.push_back({t->getName(), mode, dtype_name(t->getType()), to_shape(t->getDimensions())});
  };
  for (int32_t i = 0; i < net.getNbInputs(); ++i) add(net.getInput(i), engine::TensorMode::Input);
  for (int32_t i = 0; i < net.getNbOutputs(); ++i) add(net.getOutput(i), engine::TensorMode::Output);
  return io;
}

void write_atomically(const std::string& path, const void* data, size_t size) {
  const std::string tmp = path + ".partial";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail(ErrorCode::Internal, "cannot write " + tmp);
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!f) fail(ErrorCode::Internal, "short write to " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(ErrorCode::Internal, "cannot rename " + tmp + " to " + path + ": " + ec.message());
}

}  // namespace

BuildResult build_engine(const std::string& onnx_path, const std::string& engine_path, const std::string& precision,
                         const std::vector<engine::OptimizationProfile>& profiles, const BuildProgressFn& progress,
                         const BuildOptions& options) {
#if !ALPAMAYO_HAVE_ONNXPARSER
  (void)onnx_path, (void)engine_path, (void)precision, (void)profiles, (void)progress, (void)options;
  fail(ErrorCode::BackendUnavailable, "this build has no TensorRT ONNX parser (libnvonnxparser); cannot build engines");
#else
  if (!engine::is_known_precision(precision))
    fail(ErrorCode::InvalidInput, "build_engine: precision \"" + precision + "\", expected fp32, fp16, bf16 or fp8");
  if (profiles.empty()) fail(ErrorCode::InvalidInput, "build_engine: at least one optimization profile is required");
  const GpuInfo gpu = query_gpu(options.device);
  const engine::ComputeCapability need = engine::min_compute_capability(precision);
  if (gpu.cc.value() < need.value())
    fail(ErrorCode::BackendUnavailable, "build_engine: " + precision + " engines need " + engine::sm_name(need) +
                                            "+, " + gpu.name + " is " + engine::sm_name(gpu.cc));
  cuda::check(cudaSetDevice(gpu.device), "cudaSetDevice");

  Logger logger(options.log, LogLevel::Warning);
  TrtPtr<nvinfer1::IBuilder> builder(nvinfer1::createInferBuilder(logger));
  if (!builder) fail(ErrorCode::BackendUnavailable, "TensorRT createInferBuilder failed: " + logger.take_errors());
  TrtPtr<nvinfer1::INetworkDefinition> network(builder->createNetworkV2(network_flags()));
  if (!network) fail(ErrorCode::Internal, "TensorRT createNetworkV2 failed: " + logger.take_errors());
  TrtPtr<nvonnxparser::IParser> parser(nvonnxparser::createParser(*network, logger));
  if (!parser) fail(ErrorCode::Internal, "TensorRT createParser failed: " + logger.take_errors());
  if (!parser->parseFromFile(onnx_path.c_str(), static_cast<int>(nvinfer1::ILogger::Severity::kWARNING))) {
    std::string why;
    for (int i = 0; i < parser->getNbErrors(); ++i) why += (why.empty() ? "" : "; ") + std::string(parser->getError(i)->desc());
    fail(ErrorCode::InvalidInput, "cannot parse ONNX " + onnx_path + ": " + (why.empty() ? logger.take_errors() : why));
  }

  TrtPtr<nvinfer1::IBuilderConfig> config(builder->createBuilderConfig());
  if (!config) fail(ErrorCode::Internal, "TensorRT createBuilderConfig failed");
  if (options.workspace_bytes > 0)
    config->setMemoryPoolLimit(nvinfer1::MemoryPoolType::kWORKSPACE, static_cast<size_t>(options.workspace_bytes));
  ProgressMonitor monitor(progress);
  config->setProgressMonitor(&monitor);

  using nvinfer1::OptProfileSelector;
  for (const auto& p : profiles) {
    nvinfer1::IOptimizationProfile* prof = builder->createOptimizationProfile();  // owned by the builder
    for (const auto& [input, r] : p.inputs) {
      const std::string what = "profile \"" + p.name + "\" input " + input;
      if (!prof->setDimensions(input.c_str(), OptProfileSelector::kMIN, to_dims(r.min, what)) ||
          !prof->setDimensions(input.c_str(), OptProfileSelector::kOPT, to_dims(r.opt, what)) ||
          !prof->setDimensions(input.c_str(), OptProfileSelector::kMAX, to_dims(r.max, what)))
        fail(ErrorCode::InvalidInput, "build_engine: " + what + " rejected: " + logger.take_errors());
    }
    if (config->addOptimizationProfile(prof) < 0)
      fail(ErrorCode::InvalidInput, "build_engine: profile \"" + p.name + "\" is invalid: " + logger.take_errors());
  }

  BuildResult result;
  result.io = network_io(*network);
  TrtPtr<nvinfer1::IHostMemory> plan(builder->buildSerializedNetwork(*network, *config));
  if (!plan) {
    if (monitor.cancelled()) fail(ErrorCode::Aborted, "engine build of " + onnx_path + " cancelled");
    fail(ErrorCode::Internal, "TensorRT could not build " + onnx_path + ": " + logger.take_errors());
  }
  write_atomically(engine_path, plan->data(), plan->size());
  result.bytes = plan->size();
  result.sha256 = sha256_hex({static_cast<const char*>(plan->data()), plan->size()});
  result.tensorrt_version = runtime_version_string();
  result.compute_capability = engine::sm_name(gpu.cc);
  return result;
#endif
}

}  // namespace alp::trt
