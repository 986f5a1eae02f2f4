#pragma once
// Verified engine loading: manifest facts are checked against the file (sha256), the TensorRT library
// (major.minor) and the GPU (compute capability, precision) before deserialisation, and the
// deserialised engine's I/O tensors and profiles against the manifest after it.
#include <span>
#include <string>
#include <vector>

#include "backends/cuda/resources.hpp"
#include "backends/trt/trt_common.hpp"
#include "backends/trt/trt_logger.hpp"
#include "core/engine_manifest.hpp"
#include "core/engine_manifest_check.hpp"

namespace alp::trt {

struct GpuInfo {
  int device = 0;
  engine::ComputeCapability cc;
  std::string name;
};
// Throws BackendUnavailable when there is no such CUDA device (no driver, no GPU, bad index).
GpuInfo query_gpu(int device);

struct LoadedEngine {
  const engine::EngineSpec* spec = nullptr;
  uint64_t plan_bytes = 0;  // serialized size: weights dominate it
  TrtPtr<nvinfer1::ICudaEngine> engine;  // declared before the contexts: destroyed after them
  // contexts[p] runs optimization profile p (selected once, at load by the runner, never switched).
  // They are created user-managed (kUSER_MANAGED): no activation memory until bind_context_memory.
  std::vector<TrtPtr<nvinfer1::IExecutionContext>> contexts;
  int64_t context_memory = 0;  // bytes the largest profile needs
};

// Binds `block` as the activation memory of every context of `engines`. Only for contexts that never
// run concurrently (one stream, one call at a time). A block smaller than an engine's
// context_memory is Error(Internal).
void bind_context_memory(std::span<LoadedEngine* const> engines, const cuda::DeviceBuffer& block);

// The I/O tensors as TensorRT reports them, in the manifest's vocabulary.
std::vector<engine::IoTensorSpec> engine_io(const nvinfer1::ICudaEngine& e);

// Every failure is Error(InvalidEngine) naming the engine and what differs (an unbuilt manifest entry
// included), except a precision the GPU cannot run (BackendUnavailable). The plan is streamed into
// deserialisation (IStreamReaderV2); its sha256 is computed once per process and file version.
LoadedEngine load_engine(nvinfer1::IRuntime& runtime, Logger& logger, const engine::EngineSpec& spec,
                         const std::string& dir, const GpuInfo& gpu);

}  // namespace alp::trt
