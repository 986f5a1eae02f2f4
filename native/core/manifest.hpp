#pragma once
// The engines directory: manifest.json plus one TensorRT engine file per network part (vision, llm,
// expert). The manifest says what each engine was built from and for, so a runner can refuse a mismatch
// (other TensorRT, other GPU, other model config, changed file) before deserialising anything.
// Every problem is Error(InvalidEngine) naming the file and the field path, e.g.
// "engines/manifest.json: engines.llm.profiles[0].input_ids.max: ...".
//
// Schema (format_version 1):
// {
//   "format_version": 1,
//   "model": {config.json contents} | "<sha256 hex of the canonical config>",
//   "engines": {
//     "<vision|llm|expert>": {
//       "file": "llm.engine", "bytes": 123, "sha256": "<64 hex>",
//       "precision": "fp32|fp16|bf16|fp8",
//       "tensorrt_version": "10.3.0", "compute_capability": "sm_90",
//       "model_config_hash": "<64 hex, equal to the manifest's config hash>",
//       "inputs":  [{"name": "...", "dtype": "F16", "shape": [-1, 4096]}],   // -1 = dynamic
//       "outputs": [{"name": "...", "dtype": "F16", "shape": [-1, 4096]}],
//       "profiles": [{"<input name>": {"min": [...], "opt": [...], "max": [...]}}]
//     }
//   },
//   "fp8_scales": {"<tensor name>": 0.125}
// }
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.hpp"
#include "core/json.hpp"
#include "core/sha256.hpp"
#include "core/tensor.hpp"

namespace alp {

struct EngineTensor {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;  // -1 marks a dynamic dimension
};

struct ProfileRange {
  Shape min, opt, max;
};
// One TensorRT optimization profile: a range for every dynamic input, keyed by input name.
using OptimizationProfile = std::map<std::string, ProfileRange, std::less<>>;

struct EngineSpec {
  std::string file;  // plain file name inside the engines directory
  uint64_t bytes = 0;
  std::string sha256;
  std::string precision;  // fp32 | fp16 | bf16 | fp8
  std::string tensorrt_version;
  std::string compute_capability;  // "sm_90"
  std::string model_config_hash;
  std::vector<EngineTensor> inputs;
  std::vector<EngineTensor> outputs;
  std::vector<OptimizationProfile> profiles;

  const EngineTensor* find_input(std::string_view name) const;
  const EngineTensor* find_output(std::string_view name) const;
};

// sha256 of the canonical (sorted keys, compact) JSON form of a config, so key order or whitespace in
// config.json does not change it.
std::string config_hash(const json::Value& config);

struct Manifest {
  static constexpr int kFormatVersion = 1;
  static constexpr const char* kFileName = "manifest.json";

  int format_version = kFormatVersion;
  json::Value model;  // the checkpoint's config object, or its config_hash() as a string
  std::map<std::string, EngineSpec, std::less<>> engines;
  std::map<std::string, double, std::less<>> fp8_scales;

  // Reads and validates dir/manifest.json, then checks each engine file exists with the recorded size.
  // Checksums are not recomputed here (engines are GBs); call verify_checksums() for that.
  static Manifest load(const std::string& dir);
  // Validation of the document alone; `where` prefixes every error message.
  static Manifest from_json(const json::Value& doc, const std::string& where = kFileName);
  json::Value to_json() const;
  // Runs the same checks as load() on this object, then writes dir/manifest.json atomically.
  void save(const std::string& dir) const;

  // Fills bytes and sha256 of every engine from the files in dir (used when building engines).
  void stamp_files(const std::string& dir);
  // Recomputes every file's sha256 and compares with the manifest.
  void verify_checksums(const std::string& dir) const;
  // Refuses engines built for another TensorRT version or GPU architecture.
  void require_compatible(std::string_view tensorrt_version, std::string_view compute_capability) const;

  std::string model_config_hash() const;
  const EngineSpec& engine(std::string_view name) const;  // InvalidEngine when absent
};

}  // namespace alp
