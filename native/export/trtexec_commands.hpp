#pragma once
// The trtexec command lines that build each engine of a manifest from its exported ONNX, for a
// machine where the addon was compiled without TensorRT (or to build elsewhere by hand).
#include <string>
#include <vector>

#include "core/engine_manifest.hpp"

namespace alp::exporter {

// One command per engine: --onnx, --saveEngine, one min/opt/max shape set per profile, and the
// precision flag (fp16 -> --fp16, bf16 -> --bf16: graphs keep fp32 activations with narrowed weights,
// built weakly typed so TensorRT may pick reduced-precision kernels; fp8 -> --stronglyTyped: the
// Q/DQ pairs carry the precision; fp32 -> none).
std::vector<std::string> trtexec_commands(const engine::EngineManifest& m, const std::string& dir);

}  // namespace alp::exporter
