#pragma once
// Element types and exact scalar conversions. Every backend and the exporter convert through these
// functions so that "bf16 weight -> fp32" means the same bits everywhere.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace alp {

enum class DType : uint8_t { F32, F16, BF16, F8E4M3, I32, I64, U8, F64, BOOL };

size_t dtype_size(DType t) noexcept;
// safetensors spelling: "F32", "F16", "BF16", "F8_E4M3", "I32", "I64", "U8", "F64", "BOOL".
std::string_view dtype_name(DType t) noexcept;
std::optional<DType> dtype_from_name(std::string_view name) noexcept;

// Exact widening conversions.
float bf16_to_f32(uint16_t bits) noexcept;
float f16_to_f32(uint16_t bits) noexcept;
float fp8e4m3_to_f32(uint8_t bits) noexcept;  // OCP e4m3fn: no infinities, 0x7f/0xff are NaN, max 448
// Narrowing conversions round to nearest even. fp8 saturates to +-448 (as torch's float8_e4m3fn cast
// does not; we saturate because quantised weights are pre-scaled and saturation is the safe choice).
uint16_t f32_to_bf16(float v) noexcept;
uint16_t f32_to_f16(float v) noexcept;
uint8_t f32_to_fp8e4m3(float v) noexcept;

// Converts n elements of `src` (of type `t`) to fp32. Only floating and integer types; BOOL as 0/1.
void convert_to_f32(DType t, const void* src, float* dst, size_t n) noexcept;

}  // namespace alp
