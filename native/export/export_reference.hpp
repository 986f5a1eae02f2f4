#pragma once
// Reference cases for the export round trip: the CPU executor runs the exported networks
// (export_graphs.hpp) on synthetic inputs at sizes other than the trace sizes, and every graph input
// it saw plus every output it produced is written as .npy with <dir>/cases.json:
//   {"precision": "fp32", "cases": [{"name": "prefill", "model": "llm.onnx",
//     "inputs": {"input_ids": "prefill/input_ids.npy", ...}, "outputs": {"logits": ..., "present_key.0": ...}}]}
// test/fixtures/onnx/check_model_export.py feeds the inputs to onnxruntime and compares.
#include <string>

#include "backends/cpu/cpu_ops.hpp"
#include "export/onnx_ops.hpp"
#include "model/config.hpp"

namespace alp::exporter {

// Cases: vision (one image, and 3 in one call; grid other than the trace's), prefill with image rows (one lane), one
// decode step (no image rows) over that cache, a decode call over 3 lanes at different lengths, the
// expert over 3 ragged prefixes and over one. Caches are [lanes, Hkv, capacity, D] with a finite
// non-zero pattern past each lane's length (stale rows the graphs must mask). With
// `real_shapes`, also the planner's real sequence shapes (the frames in one vision call: vision_720 or
// vision_16x720; prefill_3300 with 2,880 image
// rows, decode_3600, expert_prefix1 / expert_prefix3600) at the checkpoint's own layer dims.
// `capacity`: the graphs' (static) KV capacity; the real-shape cases need kPast 3,600 + 1 + n_waypoints.
struct ReferenceOptions {
  bool trace_cases = true;   // false: only the real-shape cases
  bool real_shapes = false;
  // Frames in the real-shape prefill (1..16): the layout's 388 text tokens around `prefill_frames` x
  // 182 image tokens (16: 3,300). Fewer frames make a real-width checkpoint's CPU prefill affordable
  // (~600 CPU-seconds at 3,300 tokens for 2 layers of 4096/12288). The 3,600-row cache of decode and
  // the expert is the prefill's rows repeated (scaled by 0.97 per pass), not generated tokens.
  int prefill_frames = 16;
};
void write_export_reference(const model::ModelConfig& cfg, const model::WeightSource& weights, Precision precision,
                            const std::string& dir, int64_t capacity, const ReferenceOptions& options);

}  // namespace alp::exporter
