#pragma once
// NumPy .npy (format 1.0) writer for F32/I64 host tensors: the op zoo's inputs and reference weights,
// read back by test/fixtures/onnx/check_small_graphs.py.
#include <string>

#include "core/tensor.hpp"

namespace alp::exporter {

void write_npy(const std::string& path, const Tensor& t);

}  // namespace alp::exporter
