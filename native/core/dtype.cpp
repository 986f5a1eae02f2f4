#include "core/dtype.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace alp {

size_t dtype_size(DType t) noexcept {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::F8E4M3: return 1;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
    case DType::F64: return 8;
    case DType::BOOL: return 1;
  }
  return 0;
}

std::string_view dtype_name(DType t) noexcept {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F8E4M3: return "F8_E4M3";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
    case DType::F64: return "F64";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

std::optional<DType> dtype_from_name(std::string_view name) noexcept {
  static constexpr DType all[] = {DType::F32, DType::F16, DType::BF16, DType::F8E4M3, DType::I32,
                                  DType::I64, DType::U8,  DType::F64,  DType::BOOL};
  for (DType t : all)
    if (dtype_name(t) == name) return t;
  return std::nullopt;
}

namespace {

float from_bits(uint32_t b) noexcept { return std::bit_cast<float>(b); }
uint32_t to_bits(float f) noexcept { return std::bit_cast<uint32_t>(f); }

// Rounds the magnitude of a finite fp32 (bits without sign) to a narrower binary format with
// `man` mantissa bits and exponent bias `bias`, to nearest even, including its subnormal range.
// Returns the unsigned code; a result past the largest finite code simply carries into the next
// exponent, which callers map to Inf (f16) or saturate (fp8).
uint32_t round_magnitude(uint32_t abs_bits, int man, int bias) noexcept {
  const uint32_t exp = abs_bits >> 23;
  const uint32_t frac = abs_bits & 0x7fffffu;
  const uint32_t sig = exp ? (frac | 0x800000u) : frac;  // value = sig * 2^(e - 23)
  const int e = exp ? static_cast<int>(exp) - 127 : -126;
  const int emin = 1 - bias;
  int shift = 23 - man;
  int biased = e + bias;  // target exponent field for a normal result
  if (e < emin) {
    shift += emin - e;  // denormalise: the target's subnormals share exponent emin
    biased = 1;
  }
  if (shift > 30) shift = 30;  // sig < 2^24 < half an ulp: rounds to zero either way
  const uint32_t q = sig >> shift;
  const uint32_t rem = sig & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  uint32_t r = q;
  if (rem > half || (rem == half && (q & 1u))) ++r;
  // q carries the implicit bit for normals, so adding it to (biased-1)<<man also handles the carry
  // from a rounded-up mantissa into the exponent and the subnormal->normal transition.
  return (static_cast<uint32_t>(biased - 1) << man) + r;
}

}  // namespace

float bf16_to_f32(uint16_t bits) noexcept { return from_bits(static_cast<uint32_t>(bits) << 16); }

float f16_to_f32(uint16_t bits) noexcept {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exp = (bits >> 10) & 0x1fu;
  const uint32_t man = bits & 0x3ffu;
  if (exp == 0x1f) return from_bits(sign | 0x7f800000u | (man << 13));  // Inf, NaN keeps payload
  if (exp == 0) {
    // Subnormal (or zero): man * 2^-24 is exact in fp32.
    const float mag = std::ldexp(static_cast<float>(man), -24);
    return sign ? -mag : mag;
  }
  return from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

float fp8e4m3_to_f32(uint8_t bits) noexcept {
  const bool neg = bits & 0x80u;
  const uint32_t exp = (bits >> 3) & 0xfu;
  const uint32_t man = bits & 0x7u;
  float mag;
  if (exp == 0xf && man == 0x7) {
    mag = std::numeric_limits<float>::quiet_NaN();
  } else if (exp == 0) {
    mag = std::ldexp(static_cast<float>(man), -9);
  } else {
    mag = from_bits(((exp + 120u) << 23) | (man << 20));
  }
  return neg ? -mag : mag;
}

uint16_t f32_to_bf16(float v) noexcept {
  const uint32_t b = to_bits(v);
  if ((b & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((b >> 16) | 0x40u);  // quiet NaN
  // Round to nearest even on the low 16 bits; overflow rounds into Inf, as it should.
  const uint32_t rounded = b + 0x7fffu + ((b >> 16) & 1u);
  return static_cast<uint16_t>(rounded >> 16);
}

uint16_t f32_to_f16(float v) noexcept {
  const uint32_t b = to_bits(v);
  const uint16_t sign = static_cast<uint16_t>((b >> 16) & 0x8000u);
  const uint32_t abs = b & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  if (abs == 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (abs >= 0x47800000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65536: Inf
  const uint32_t code = round_magnitude(abs, 10, 15);
  return static_cast<uint16_t>(sign | (code >= 0x7c00u ? 0x7c00u : code));
}

uint8_t f32_to_fp8e4m3(float v) noexcept {
  const uint32_t b = to_bits(v);
  const uint8_t sign = static_cast<uint8_t>((b >> 24) & 0x80u);
  const uint32_t abs = b & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint8_t>(sign | 0x7fu);
  if (abs >= 0x43e00000u) return static_cast<uint8_t>(sign | 0x7eu);  // >= 448 (and Inf): saturate
  const uint32_t code = round_magnitude(abs, 3, 7);
  return static_cast<uint8_t>(sign | (code > 0x7eu ? 0x7eu : code));
}

namespace {
template <class T>
void widen(const void* src, float* dst, size_t n) noexcept {
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, static_cast<const uint8_t*>(src) + i * sizeof(T), sizeof(T));  // src may be unaligned
    dst[i] = static_cast<float>(v);
  }
}
template <class Bits, float (*F)(Bits)>
void widen_bits(const void* src, float* dst, size_t n) noexcept {
  for (size_t i = 0; i < n; ++i) {
    Bits v;
    std::memcpy(&v, static_cast<const uint8_t*>(src) + i * sizeof(Bits), sizeof(Bits));
    dst[i] = F(v);
  }
}
}  // namespace

void convert_to_f32(DType t, const void* src, float* dst, size_t n) noexcept {
  switch (t) {
    case DType::F32: if (n) std::memcpy(dst, src, n * 4); return;
    case DType::F16: widen_bits<uint16_t, f16_to_f32>(src, dst, n); return;
    case DType::BF16: widen_bits<uint16_t, bf16_to_f32>(src, dst, n); return;
    case DType::F8E4M3: widen_bits<uint8_t, fp8e4m3_to_f32>(src, dst, n); return;
    case DType::I32: widen<int32_t>(src, dst, n); return;
    case DType::I64: widen<int64_t>(src, dst, n); return;
    case DType::U8: widen<uint8_t>(src, dst, n); return;
    case DType::F64: widen<double>(src, dst, n); return;
    case DType::BOOL:
      for (size_t i = 0; i < n; ++i) dst[i] = static_cast<const uint8_t*>(src)[i] ? 1.0f : 0.0f;
      return;
  }
}

}  // namespace alp
