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
// `transpose` requires a 2-D tensor. `scale_type`: the element type the FP8 scale is stored in
// (the graph's compute type, since DequantizeLinear outputs the scale's type); the scale is chosen
// exactly representable in it, so quantisation and dequantisation use the same number.
EncodedWeight encode_weight(const Tensor& t, onnx::ElemType target, bool transpose, const std::string& name,
                            onnx::ElemType scale_type = onnx::ElemType::Float);

// The per-tensor FP8 scale rule is core/fp8_scale.hpp (fp8_e4m3_scale).
// `scale` rounded to `type` (Float, Float16, BFloat16) and raised to its smallest normal value.
float scale_in(float scale, onnx::ElemType type);

}  // namespace alp::exporter
