#include "core/precision.hpp"

#include <string>

#include "core/error.hpp"

namespace alp {

namespace {
constexpr Precision kAll[] = {Precision::FP32, Precision::FP16, Precision::BF16, Precision::FP8};
}

std::string_view precision_name(Precision p) noexcept {
  switch (p) {
    case Precision::FP32: return "fp32";
    case Precision::FP16: return "fp16";
    case Precision::BF16: return "bf16";
    case Precision::FP8: return "fp8";
  }
  return "fp32";
}

std::optional<Precision> find_precision(std::string_view name) noexcept {
  for (Precision p : kAll)
    if (precision_name(p) == name) return p;
  return std::nullopt;
}

Precision parse_precision(std::string_view name) {
  if (auto p = find_precision(name)) return *p;
  fail(ErrorCode::InvalidInput, "precision: expected fp32, fp16, bf16 or fp8, got '" + std::string(name) + "'");
}

}  // namespace alp
