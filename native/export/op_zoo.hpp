#pragma once
// The op zoo: one small ONNX graph per Ops method (and per precision / dynamic-shape variant),
// written through OnnxOps with seeded random inputs and weights saved alongside as .npy, plus
// manifest.json describing each case. test/fixtures/onnx/check_small_graphs.py checks every graph
// with onnx.checker (full_check) and onnxruntime against NumPy reference maths.
#include <string>
#include <vector>

namespace alp::exporter {

// Writes the zoo into `dir` (created if missing); returns the case names in manifest order.
std::vector<std::string> write_op_zoo(const std::string& dir);

}  // namespace alp::exporter
