#include "export/weight_encoding.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/fp8_scale.hpp"

namespace alp::exporter {

namespace {

constexpr size_t kChunk = 1 << 20;  // elements converted to fp32 at a time

bool is_float_dtype(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F8E4M3 || t == DType::F64;
}

// Calls fn(flat_index, value) for every element, in order, converting chunk by chunk.
template <class Fn>
void for_each_f32(const Tensor& t, Fn&& fn) {
  const size_t n = static_cast<size_t>(t.numel());
  const size_t esize = dtype_size(t.dtype());
  std::vector<float> buf(std::min(n, kChunk));
  const auto* src = static_cast<const uint8_t*>(t.data());
  for (size_t begin = 0; begin < n; begin += kChunk) {
    const size_t count = std::min(kChunk, n - begin);
    convert_to_f32(t.dtype(), src + begin * esize, buf.data(), count);
    for (size_t i = 0; i < count; ++i) fn(begin + i, buf[i]);
  }
}

}  // namespace

float scale_in(float scale, onnx::ElemType type) {
  switch (type) {
    case onnx::ElemType::Float: return scale;
    case onnx::ElemType::Float16:
      // 2^-14 is fp16's smallest normal: a subnormal scale would keep only a few significant bits.
      return f16_to_f32(f32_to_f16(std::max(scale, 0x1p-14f)));
    case onnx::ElemType::BFloat16: return bf16_to_f32(f32_to_bf16(std::max(scale, 0x1p-126f)));
    default: fail(ErrorCode::Internal, "scale_in: element type " + std::to_string(static_cast<int>(type)) + " is not a float type");
  }
}

EncodedWeight encode_weight(const Tensor& t, onnx::ElemType target, bool transpose, const std::string& name,
                            onnx::ElemType scale_type) {
  require(is_float_dtype(t.dtype()), ErrorCode::InvalidCheckpoint,
          "weight '" + name + "': expected a floating-point tensor, got " + std::string(dtype_name(t.dtype())));
  require(!transpose || t.rank() == 2, ErrorCode::Internal,
          "weight '" + name + "': transpose needs a 2-D tensor, got " + shape_str(t.shape()));
  EncodedWeight out;
  out.type = target;
  out.dims = t.shape();
  const int64_t rows = transpose ? t.dim(0) : 1;
  const int64_t cols = transpose ? t.dim(1) : t.numel();
  if (transpose) out.dims = {cols, rows};
  const size_t n = static_cast<size_t>(t.numel());
  const size_t esize = onnx::elem_size(target);
  out.bytes.assign(n * esize, '\0');
  auto* dst = reinterpret_cast<uint8_t*>(out.bytes.data());

  const bool same_bits = !transpose && ((target == onnx::ElemType::Float && t.dtype() == DType::F32) ||
                                        (target == onnx::ElemType::Float16 && t.dtype() == DType::F16) ||
                                        (target == onnx::ElemType::BFloat16 && t.dtype() == DType::BF16));
  if (same_bits) {
    std::memcpy(dst, t.data(), out.bytes.size());
    return out;
  }

  float inv_scale_div = 1.0f;
  if (target == onnx::ElemType::Float8E4M3FN) {
    float amax = 0.0f;
    for_each_f32(t, [&](size_t, float v) { amax = std::max(amax, std::fabs(v)); });
    require(std::isfinite(amax), ErrorCode::InvalidCheckpoint, "weight '" + name + "' holds inf or NaN");
    out.scale = scale_in(fp8_e4m3_scale(amax), scale_type);
    inv_scale_div = out.scale;
  }
  // Source element (r, c) of the [rows, cols] view goes to (c, r) when transposing.
  auto dest_index = [&](size_t i) -> size_t {
    if (!transpose) return i;
    const size_t r = i / static_cast<size_t>(cols), c = i % static_cast<size_t>(cols);
    return c * static_cast<size_t>(rows) + r;
  };
  switch (target) {
    case onnx::ElemType::Float:
      for_each_f32(t, [&](size_t i, float v) { std::memcpy(dst + dest_index(i) * 4, &v, 4); });
      break;
    case onnx::ElemType::Float16:
      for_each_f32(t, [&](size_t i, float v) {
        const uint16_t h = f32_to_f16(v);
        std::memcpy(dst + dest_index(i) * 2, &h, 2);
      });
      break;
    case onnx::ElemType::BFloat16:
      for_each_f32(t, [&](size_t i, float v) {
        const uint16_t h = f32_to_bf16(v);
        std::memcpy(dst + dest_index(i) * 2, &h, 2);
      });
      break;
    case onnx::ElemType::Float8E4M3FN:
      // Division (not multiplication by 1/scale) is what QuantizeLinear specifies.
      for_each_f32(t, [&](size_t i, float v) { dst[dest_index(i)] = f32_to_fp8e4m3(v / inv_scale_div); });
      break;
    default:
      fail(ErrorCode::Internal, "weight '" + name + "': unsupported export element type " +
                                    std::to_string(static_cast<int>(target)));
  }
  return out;
}

}  // namespace alp::exporter
