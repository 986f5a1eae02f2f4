#pragma once
// FP8 calibration: max |x| of every linear's input, keyed by the linear's weight name, observed while
// the CPU executor runs the exported networks (export_graphs.hpp) on synthetic inputs. The scales
// (amax / 448) become the QuantizeLinear scales of the FP8 graphs and are recorded in the manifest.
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "export/forwarding_ops.hpp"
#include "export/onnx_ops.hpp"
#include "model/config.hpp"

namespace alp::exporter {

// Watches linear() calls of an executor whose values CpuOps::values() can read (the CPU executor).
class AmaxRecorder final : public ForwardingOps {
 public:
  explicit AmaxRecorder(model::Ops& cpu) : ForwardingOps(cpu) {}

  const std::map<std::string, float>& amax() const { return amax_; }

 private:
  model::Value weight_impl(std::string_view name) override;
  model::Value reshape_impl(const model::Value& x, const Shape& target, const Shape& out) override;
  model::Value linear_impl(const model::Value& x, const model::Value& w, const model::Value& b, const Shape& out) override;

  // Weight values by identity -> checkpoint name; a reshaped weight (vision patch embed) keeps its name.
  std::map<const model::ValueImpl*, std::string> names_;
  std::map<std::string, float> amax_;
};

// Runs vision, a prefill with image tokens, decode steps and expert steps `runs` times on the CPU
// executor (fp32) with seeded synthetic inputs, and returns the per-linear input amax.
std::map<std::string, float> calibrate_activation_amax(const model::ModelConfig& cfg, const model::WeightSource& weights,
                                                       int runs);

}  // namespace alp::exporter
