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

struct ReferenceOptions {
  // The small cases: vision (one image, grid other than the trace's), prefill with image rows at
  // past_len 0, one decode step (no image rows) over that cache, one expert step over the cache prefix.
  bool trace_cases = true;
  // The planner's real sequence shapes at the checkpoint's own layer dims: vision_720, a prefill of
  // the planner layout (16 frames: prefill_3300 with 2,880 image rows), decode_3600 (no image rows),
  // expert_prefix1 / expert_prefix3600.
  bool real_shapes = false;
  // Frames in the real-shape prefill (1..16): the prompt keeps the layout's 388 text tokens around
  // `prefill_frames` x 182 image tokens (16: 3,300). Fewer frames make a real-width checkpoint's CPU
  // prefill affordable (~600 CPU-seconds at 3,300 tokens for 2 layers of 4096/12288).
  int prefill_frames = 16;
};

void write_export_reference(const model::ModelConfig& cfg, const model::WeightSource& weights, Precision precision,
                            const std::string& dir, const ReferenceOptions& options);

}  // namespace alp::exporter
