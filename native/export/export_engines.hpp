#pragma once
// `build-engines`: checkpoint -> ONNX graphs -> (TensorRT engines) -> manifest.json. The TensorRT build
// is passed in, so this layer does not depend on the TensorRT backend and the decision "build or not"
// (export-only, builder compiled in) is one place that tests can observe without TensorRT.
#include <functional>
#include <string>
#include <vector>

#include "core/engine_manifest.hpp"
#include "export/model_export.hpp"

namespace alp::exporter {

// Builds every engine of the manifest from the ONNX files in `out_dir`, filling in tensorrt_version,
// compute_capability, sha256 and built.
using EngineBuilder = std::function<void(engine::EngineManifest& manifest, const std::string& out_dir)>;

struct ExportEnginesResult {
  engine::EngineManifest manifest;  // as written to out_dir/manifest.json
  bool built = false;               // every engine built
  std::vector<std::string> trtexec;  // commands that build them, when !built
};

// Exports the ONNX graphs, then calls `build` unless `export_only` is set or `build` is empty (TensorRT
// not compiled in), then writes manifest.json. With `export_only` the builder is never called, whatever
// was compiled in: the manifest marks the engines not built and `trtexec` holds the commands.
ExportEnginesResult export_engines(const std::string& checkpoint_dir, const std::string& out_dir, Precision precision,
                                   const ModelExportOptions& options, bool export_only, const EngineBuilder& build);

}  // namespace alp::exporter
