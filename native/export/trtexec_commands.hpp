#pragma once
// The trtexec command lines that build each engine of a manifest from its exported ONNX, for a
// machine where the addon was compiled without TensorRT (or to build elsewhere by hand).
#include <string>
#include <vector>

#include "core/engine_manifest.hpp"

namespace alp::exporter {

// One command per engine, in the grammar both trtexec 10.16 and 11.1 accept
// (samples/common/sampleOptions.cpp): --onnx, --saveEngine, --stronglyTyped (the precision lives in
// the graph's types; TensorRT 10 needs the flag, 11 always builds strongly typed and keeps it as a
// no-op), and per profile `--profile=N` immediately followed by its --minShapes/--optShapes/--maxShapes
// (trtexec rejects several shape sets without --profile). No --fp16/--bf16/--fp8: deprecated in 10
// ("superseded by strong typing", and an error together with --stronglyTyped) and gone in 11.
std::vector<std::string> trtexec_commands(const engine::EngineManifest& m, const std::string& dir);

}  // namespace alp::exporter
