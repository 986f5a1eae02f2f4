#pragma once
// Checks that tie a manifest entry to the machine and to the engine TensorRT deserialised. They take
// plain values (versions, compute capability, tensor lists read through the TensorRT API) so the
// rules are unit-tested without a GPU; backends/trt/engine_loader.cpp feeds them the real values.
#include <span>
#include <string>
#include <string_view>

#include "core/engine_manifest.hpp"

namespace alp::engine {

struct ComputeCapability {
  int major = 0, minor = 0;
  int value() const { return major * 10 + minor; }  // 89 for sm_89
};
// "sm_90" -> {9, 0}; "sm_120" -> {12, 0}. Throws InvalidEngine naming `what` on any other spelling.
ComputeCapability parse_compute_capability(std::string_view sm, std::string_view what);
std::string sm_name(ComputeCapability cc);  // {8, 9} -> "sm_89"

// Lowest compute capability with the tensor-core types a precision needs (fp8: Ada/Hopper sm_89).
ComputeCapability min_compute_capability(std::string_view precision);
bool is_known_precision(std::string_view precision) noexcept;

// The engine was built by TensorRT major.minor == the runtime's (plans are not portable across minors).
void check_tensorrt_version(const EngineSpec& e, int runtime_major, int runtime_minor);

// Precision needs the GPU (fp8 on sm_80 -> BackendUnavailable: no silent fallback); then the engine's
// compute capability equals the GPU's (InvalidEngine: plans are built per SM).
void check_gpu(const EngineSpec& e, ComputeCapability gpu, std::string_view device_name);

// <dir>/<file> exists and is a regular file; returns the path.
std::string engine_file_path(const EngineSpec& e, const std::string& dir);
void check_checksum(const EngineSpec& e, std::string_view actual_sha256_hex);

// Every manifest tensor exists in `actual` with the same mode, dtype and shape, and the engine has no
// tensor the manifest does not list.
void check_io_tensors(const EngineSpec& e, std::span<const IoTensorSpec> actual);

// The engine's profile `index` (getProfileShape) for `input` equals the manifest's.
void check_profile_range(const EngineSpec& e, int index, std::string_view input, const ProfileRange& actual);

// The runner loads plans only: an exported-but-unbuilt entry (built = false) is InvalidEngine.
void check_built(const EngineSpec& e);

// The dimensions of the checkpoint the runner computes host inputs for (rope tables, token layout).
struct ModelDims {
  int64_t hidden_size = 0, vocab_size = 0;
  int64_t layers = 0, kv_heads = 0, head_dim = 0;  // backbone text decoder
  int64_t n_waypoints = 0, action_dims = 0;
};
// Manifest model/kv_cache fields and the expert's x shape equal the checkpoint's; InvalidEngine naming
// the field otherwise (the config sha256 catches any change; this names which dimension differs).
void check_model_dims(const EngineManifest& m, const ModelDims& d);

}  // namespace alp::engine
