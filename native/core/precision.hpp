#pragma once
// The one numeric precision a run (CPU or CUDA executor) or an export asks for, and its one spelling.
// Every layer parses the user's string here, so "fp32" | "fp16" | "bf16" | "fp8" is defined once.
#include <optional>
#include <string_view>

namespace alp {

enum class Precision { FP32, FP16, BF16, FP8 };

// "fp32" | "fp16" | "bf16" | "fp8" -> the precision; anything else -> nullopt.
std::optional<Precision> find_precision(std::string_view name) noexcept;
// As find_precision, but throws Error(InvalidInput) naming the accepted spellings.
Precision parse_precision(std::string_view name);
std::string_view precision_name(Precision p) noexcept;

}  // namespace alp
