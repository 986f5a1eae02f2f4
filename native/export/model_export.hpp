#pragma once
// Checkpoint -> ONNX graphs + manifest for the TensorRT runner. Traces export_graphs.hpp's three
// networks (vision, llm, expert_step) against OnnxOps, so the graphs are the very network the CPU and
// CUDA executors run. Weights go to external data (<graph>.onnx.data). FP8 calibrates per-linear
// activation amax on the CPU executor first and records the scales in the manifest.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/engine_manifest.hpp"
#include "export/onnx_ops.hpp"
#include "model/config.hpp"

namespace alp::exporter {

// A range for one symbolic dim of the exported graphs (patches, seq, image_tokens, lanes), or the static
// KV capacity (kv_capacity: its max, which the graphs are traced at).
struct DimRange {
  int64_t min = 0, opt = 0, max = 0;
};

struct ModelExportOptions {
  int64_t opset = 24;  // TensorScatter (the in-place KV cache) needs 24
  int calibration_runs = 2;  // FP8 only, without activation_amax: synthetic scenes (calibrate_activation_amax)
  // FP8: max |input| per linear weight name from planner-shaped runs (lib/calibrateActivations.ts via
  // build-engines). Empty: the synthetic calibration above.
  std::optional<std::map<std::string, float>> activation_amax;
  // Symbolic dim -> range used for every engine profile that has that dim (defaults: planner_dim_ranges()).
  std::map<std::string, DimRange> dim_ranges;
  // Non-empty: also write round-trip reference cases there (export_reference.hpp), the planner's real
  // sequence shapes included.
  std::string reference_dir;
  // false: only the real-shape cases; frames of the real-shape prefill (export_reference.hpp).
  bool reference_trace_cases = true;
  int reference_prefill_frames = 16;
  std::function<void(const std::string& message)> progress;
};

// The planner's prompt layout (pipeline/planner.cpp, lib/prompt): 16 camera frames, each resized to
// smart_resize(1080, 1920) (720 patches, 180 image tokens for the release), plus the chat template,
// 48 history ids and the command (about 420 tokens), then up to max_reasoning_tokens (256 by default).
inline constexpr int kLayoutImages = 16, kLayoutCameraHeight = 1080, kLayoutCameraWidth = 1920;
inline constexpr int64_t kLayoutPromptText = 420, kLayoutPromptTextMax = 512, kLayoutReasoning = 256;
// Most samples decoded / denoised in one call (the planner's sampleBatch bound): the lane profiles' max.
inline constexpr int64_t kLayoutMaxSamples = 16;
struct PlannerLayout {
  int64_t patches_per_image = 0;  // vision patches of one frame
  int64_t image_tokens = 0;       // <|image_pad|> rows of the 16 frames
  int64_t prompt_opt = 0, prompt_max = 0;  // prefill length: typical and largest
  int64_t reasoning = 0;          // decode tokens after the prompt
};
PlannerLayout planner_layout(const model::ModelConfig& cfg);
// Profiles at the planner's real shapes: images 1..16 (opt 16: one vision call per plan); patches = one frame; image_tokens 0..16 frames (opt = all);
// seq 1..prompt_max (opt = prompt_opt); lanes 1..kLayoutMaxSamples (sample lanes per decode / expert
// call); kv_capacity = prompt_max + reasoning + 1 + n_waypoints (static in the graphs). Prefill pins lanes to 1;
// decode takes seq = lanes (one token per lane) and image_tokens 0; the expert's action_rows =
// n_waypoints x lanes.
std::map<std::string, DimRange> planner_dim_ranges(const model::ModelConfig& cfg);
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
