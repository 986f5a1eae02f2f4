#pragma once
// Deterministic test weights shared with the PyTorch golden script (scripts in the test comments):
// value i of tensor `name` = s · sin(0.37·i + 0.011·h(name)), h = byte sum of the name mod 9973;
// 1-D weights (all norms) are 1 + 0.1·sin(...), biases s = 0.02, other tensors s = 0.1.
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "backends/cpu/cpu_ops.hpp"
#include "core/error.hpp"
#include "core/tensor.hpp"
#include "model/param_specs.hpp"

namespace alp::test {

inline Tensor formula_tensor(const std::string& name, const Shape& shape) {
  int64_t h = 0;
  for (unsigned char c : name) h += c;
  h %= 9973;
  const bool is_norm = name.ends_with(".weight") && shape.size() == 1;  // every 1-D weight is a norm
  const bool is_bias = name.ends_with(".bias");
  Tensor t(DType::F32, shape);
  float* p = t.mutable_as<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double s = std::sin(0.37 * static_cast<double>(i) + 0.011 * static_cast<double>(h));
    p[i] = static_cast<float>(is_norm ? 1.0 + 0.1 * s : (is_bias ? 0.02 : 0.1) * s);
  }
  return t;
}

// All parameters of `cfg` by name, built with formula_tensor.
inline std::map<std::string, Tensor, std::less<>> formula_weights(const model::ModelConfig& cfg) {
  std::map<std::string, Tensor, std::less<>> m;
  for (const auto& p : model::parameter_specs(cfg)) m.emplace(p.name, formula_tensor(p.name, p.shape));
  return m;
}

// A weight source over `weights` (which must outlive it); a missing name is INVALID_CHECKPOINT.
inline model::WeightSource weight_source(const std::map<std::string, Tensor, std::less<>>& weights) {
  const auto* w = &weights;
  return [w](std::string_view n) {
    auto it = w->find(n);
    if (it == w->end()) fail(ErrorCode::InvalidCheckpoint, "missing tensor " + std::string(n));
    return it->second;
  };
}

// A CPU executor over `weights` (which must outlive it).
inline std::unique_ptr<cpu::CpuOps> cpu_ops_over(const std::map<std::string, Tensor, std::less<>>& weights,
                                                 Precision prec = Precision::FP32, int threads = 2) {
  return std::make_unique<cpu::CpuOps>(weight_source(weights), cpu::CpuOptions{prec, threads});
}

}  // namespace alp::test
