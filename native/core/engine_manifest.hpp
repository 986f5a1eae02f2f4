#pragma once
// The engines directory: manifest.json (schema: engines/manifest.schema.json, I/O contract:
// engines/README.md) plus one serialized TensorRT plan per component. This file is the
// TensorRT-independent half: the data model, parsing and the structural checks that need no GPU.
// Every problem is Error(InvalidEngine) naming the manifest field or tensor, expected and actual.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/tensor.hpp"

namespace alp::engine {

inline constexpr int64_t kManifestFormatVersion = 1;

// Tensor names of the engine I/O contract (engines/README.md, "Exported graphs"). The exporter's
// graphs carry these names and the runner binds by them, so they live in one place.
namespace names {
inline constexpr const char* kVision = "vision";
inline constexpr const char* kLlm = "llm";
inline constexpr const char* kExpert = "expert_step";
// vision, one image per call
inline constexpr const char* kPixelValues = "pixel_values";        // f32 [patches, patch_dim]
inline constexpr const char* kVisionPosIdx = "vision_pos_idx";     // i64 [patches, 4] pos-embed taps
inline constexpr const char* kVisionPosW = "vision_pos_w";         // f32 [patches, 4] tap weights
inline constexpr const char* kVisionRopeCos = "vision_rope_cos";   // f32 [patches, vision head_dim]
inline constexpr const char* kVisionRopeSin = "vision_rope_sin";
inline constexpr const char* kImageEmbeds = "image_embeds";          // [patches / merge², hidden]
inline constexpr const char* kDeepstackEmbeds = "deepstack_embeds";  // [n_deepstack, patches / merge², hidden]
// llm (image_embeds / deepstack_embeds inputs carry the vision output names)
inline constexpr const char* kInputIds = "input_ids";              // i64 [seq]
inline constexpr const char* kRopeCos = "rope_cos";                // f32 [seq, head_dim] (M-RoPE, host tables)
inline constexpr const char* kRopeSin = "rope_sin";
inline constexpr const char* kImagePositions = "image_positions";  // i64 [image_tokens]: rows of the image pads
inline constexpr const char* kLogits = "logits";                   // f32 [lanes, vocab], each lane's last token
// expert_step, K samples per call (rows lane-major: lanes x n_waypoints)
inline constexpr const char* kX = "x";                              // f32 [action_rows, action_dims]
inline constexpr const char* kT = "t";                              // f32 [1, 1]
inline constexpr const char* kExpertRopeCos = "expert_rope_cos";    // f32 [action_rows, expert head_dim]
inline constexpr const char* kExpertRopeSin = "expert_rope_sin";
inline constexpr const char* kVelocity = "velocity";                // f32 [action_rows, action_dims]

// In-place KV cache (kv_cache.update = "in_place"): past [lanes, kv_heads, kv_capacity, head_dim] in,
// present = TensorScatter(past, new rows, kv_write_index) out, the same memory (TensorRT aliases them).
inline constexpr const char* kKvWriteIndex = "kv_write_index";  // i64 [lanes]: each lane's first row written
std::string past_key(int64_t layer);     // "past_key.<layer>"
std::string past_value(int64_t layer);   // "past_value.<layer>"
std::string present_key(int64_t layer);  // "present_key.<layer>"
std::string present_value(int64_t layer);
}  // namespace names

enum class TensorMode { Input, Output };
const char* tensor_mode_name(TensorMode m) noexcept;

// dtype spellings used in the manifest: float32 float16 bfloat16 fp8 int8 int32 int64 bool uint8.
bool is_known_dtype(std::string_view dtype) noexcept;
size_t manifest_dtype_size(std::string_view dtype);  // throws InvalidEngine on an unknown spelling

struct IoTensorSpec {
  std::string name;
  TensorMode mode = TensorMode::Input;
  std::string dtype;
  Shape shape;  // -1 marks a dynamic dimension
};

struct ProfileRange {
  Shape min, opt, max;
};

struct OptimizationProfile {
  std::string name;  // "prefill" | "decode" for the llm; free-form elsewhere
  std::map<std::string, ProfileRange, std::less<>> inputs;
};

struct EngineSpec {
  std::string name;  // key under "engines"
  std::string file;  // relative to the engines directory
  std::string precision;          // fp32 | fp16 | bf16 | fp8
  std::string tensorrt_version;   // "10.16.0": the builder's version
  std::string compute_capability;  // "sm_90"
  std::string sha256;             // of `file`, lowercase hex; empty while not built
  std::string onnx;               // the exported graph the plan is built from (relative), may be empty
  bool built = true;              // false: ONNX + manifest only, the plan is still to be built
  std::vector<IoTensorSpec> io;
  std::vector<OptimizationProfile> profiles;
  std::map<std::string, double, std::less<>> fp8_scales;  // informative: Q/DQ scales baked in the engine
  // Informative: bytes of the exported weights in the engine's types, which the plan holds (plus its
  // kernels); 0 = unknown. Set by the exporter from the graph's external data.
  uint64_t weight_bytes = 0;

  const IoTensorSpec* find_io(std::string_view tensor) const;
  const IoTensorSpec& io_tensor(std::string_view tensor) const;  // throws InvalidEngine naming engine + tensor
  int profile_index(std::string_view profile) const;            // -1 when absent
};

// The backbone KV cache the runner holds and shares between the llm and expert_step engines.
struct KvCacheSpec {
  int64_t layers = 0, kv_heads = 0, head_dim = 0;
  int64_t capacity = 0;  // rows per lane of the in-place cache (prompt + reasoning + the expert's action rows)
  std::string dtype;     // float32 | float16 | bfloat16 of past_* / present_*
  std::string update;    // "in_place": the only convention this runner drives (engines/README.md)
  uint64_t bytes() const;  // K and V of every layer for one lane at full capacity
};

struct EngineManifest {
  int64_t format_version = 0;
  std::string model_config_sha256;  // sha256 of the checkpoint's config.json the engines were built from
  int64_t hidden_size = 0, vocab_size = 0;
  KvCacheSpec kv_cache;
  std::map<std::string, EngineSpec, std::less<>> engines;

  const EngineSpec& engine(std::string_view name) const;  // throws InvalidEngine "manifest has no engine ..."
};

// "[1, 8, -1, 128]"; with `wildcard`, -2 prints as "*" (any size, used in contract messages).
std::string dims_str(const Shape& s, bool wildcard = false);

// `source` names the document in messages (usually the manifest path).
EngineManifest parse_engine_manifest(const json::Value& doc, std::string_view source);
// Reads and parses <dir>/manifest.json, then validate_manifest().
EngineManifest load_engine_manifest(const std::string& dir);

// sha256 of the canonical JSON (sorted keys, compact) of a config, so key order and whitespace of
// config.json do not change it. The exporter stamps it; the runner compares.
std::string config_sha256(const json::Value& config);

// The manifest as written to manifest.json (schema: engines/manifest.schema.json).
json::Value manifest_to_json(const EngineManifest& m);
// Writes <dir>/manifest.json atomically (temp file + rename) after checking that
// parse_engine_manifest() reads the document back unchanged.
void save_engine_manifest(const EngineManifest& m, const std::string& dir);
// Fills sha256 of every built engine from its file in `dir`.
void stamp_engine_files(EngineManifest& m, const std::string& dir);
// Recomputes each built engine file's sha256; InvalidEngine naming the engine when one changed.
void verify_engine_checksums(const EngineManifest& m, const std::string& dir);

// Structure and the I/O contract of the exported graphs (engines/README.md, "Exported graphs"): the
// three engines, their tensors with mode/dtype/shape, past_*/present_* consistent with kv_cache
// ("in_place"), the llm's prefill/decode profiles at kv_cache.capacity, and for built engines the
// plan facts (TensorRT version, compute capability, sha256). Unbuilt entries pass (see check_built).
void validate_manifest(const EngineManifest& m);

}  // namespace alp::engine
