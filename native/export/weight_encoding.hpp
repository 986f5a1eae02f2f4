#pragma once
// Checkpoint tensor -> bytes of an ONNX initializer in the export precision, optionally transposed
// (linear weights are stored as Wᵀ [K, M] so the graph is a plain MatMul). Works in chunks so a
// multi-GB tensor never needs an fp32 copy of itself.
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "export/onnx_proto.hpp"

namespace alp::exporter {

struct EncodedWeight {
  onnx::ElemType type = onnx::ElemType::Float;
  std::vector<int64_t> dims;
  std::string bytes;
  float scale = 1.0f;  // FP8 only: stored = round_fp8(value / scale)
};

// `target` is Float, Float16, BFloat16 or Float8E4M3FN (per-tensor scale amax/448, saturating).
// `transpose` requires a 2-D tensor.
EncodedWeight encode_weight(const Tensor& t, onnx::ElemType target, bool transpose, const std::string& name);

// The FP8 scale: core/fp8_scale.hpp (fp8_e4m3_scale).

}  // namespace alp::exporter
