#pragma once
// ONNX -> serialized TensorRT engine, the step of the engine recipe (engines/README.md) that must run
// on the target GPU. Networks are strongly typed: precision comes from the ONNX graph itself (fp16
// weights/activations, fp8 Q/DQ pairs), never from builder flags, so what was exported is what runs.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/trt/trt_logger.hpp"
#include "core/engine_manifest.hpp"

namespace alp::trt {

// Progress of one builder phase; return false to cancel the build (-> Error(Aborted)).
using BuildProgressFn = std::function<bool(std::string_view phase, int32_t step, int32_t total)>;

struct BuildOptions {
  uint64_t workspace_bytes = 0;  // 0: TensorRT's default (all device memory)
  int device = 0;
  LogSink log;
};

struct BuildResult {
  uint64_t bytes = 0;
  std::string sha256;
  std::string tensorrt_version;    // of the library that built it
  std::string compute_capability;  // "sm_90"
  std::vector<engine::IoTensorSpec> io;  // as declared by the parsed network, for the manifest
};

// `precision` (fp32 | fp16 | bf16 | fp8) is what the ONNX was exported as; it is checked against the
// GPU (fp8 needs sm_89+, BackendUnavailable otherwise) and recorded, not applied. Profiles give
// min/opt/max for every dynamic input. Writes `engine_path` atomically (temp file + rename).
BuildResult build_engine(const std::string& onnx_path, const std::string& engine_path, const std::string& precision,
                         const std::vector<engine::OptimizationProfile>& profiles, const BuildProgressFn& progress,
                         const BuildOptions& options = {});

}  // namespace alp::trt
