#pragma once
// Checkpoint -> ONNX graphs + manifest for the TensorRT runner. Traces export_graphs.hpp's three
// networks (vision, llm, expert_step) against OnnxOps, so the graphs are the very network the CPU and
// CUDA executors run. Weights go to external data (<graph>.onnx.data). FP8 calibrates per-linear
// activation amax on the CPU executor first and records the scales in the manifest.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/engine_manifest.hpp"
#include "export/onnx_ops.hpp"

namespace alp::exporter {

// A range for one symbolic dim of the exported graphs (patches, seq, image_tokens, past_len).
struct DimRange {
  int64_t min = 0, opt = 0, max = 0;
};

struct ModelExportOptions {
  int64_t opset = 21;
  int calibration_runs = 2;  // FP8 only
  // Symbolic dim -> range used for every engine profile that has that dim (defaults: default_dim_ranges()).
  std::map<std::string, DimRange> dim_ranges;
  // Non-empty: also write round-trip reference cases there (export_reference.hpp).
  std::string reference_dir;
  std::function<void(const std::string& message)> progress;
};

std::map<std::string, DimRange> default_dim_ranges();
// "name=min:opt:max" -> (name, range); InvalidInput naming the text otherwise.
std::pair<std::string, DimRange> parse_dim_range(const std::string& text);

struct ModelExportResult {
  // Engines described from the graphs (io, profiles, precision, fp8 scales); tensorrt_version,
  // compute_capability and sha256 stay empty until an engine is built.
  engine::EngineManifest manifest;
  std::map<std::string, std::string> onnx_files;  // engine name -> .onnx path
};

// Writes out_dir/{vision,llm,expert_step}.onnx (+ .onnx.data). Does not write manifest.json.
ModelExportResult export_models(const std::string& checkpoint_dir, const std::string& out_dir,
                                Precision precision, const ModelExportOptions& options = {});

}  // namespace alp::exporter
