#pragma once
// FP8 calibration: max |x| of every linear's input, keyed by the linear's weight name, observed while
// the CPU executor runs the network. The scales (amax / 448) become the QuantizeLinear scales of the
// FP8 graphs and are recorded in the manifest.
//
// Two sources of runs:
// - planner-shaped (what `build-engines` uses): an AmaxRecorder wraps the CPU executor of a real
//   pipeline::Planner (LoadOptions::wrap_ops, napi `Planner({ calibrate: true })`), and lib/ plans
//   realistic scenes through it: 16 frames -> image tokens, the chat template, ego history, a command,
//   reasoning tokens and the expert's Euler steps over every flow time, exactly as plan() runs them.
// - synthetic (calibrate_activation_amax): two short seeded scenes through the export graphs, for
//   callers of export_models that have no planner inputs (native tests).
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "export/forwarding_ops.hpp"
#include "export/onnx_ops.hpp"
#include "model/config.hpp"

namespace alp::exporter {

// What the recorder saw per linear (keyed by weight name): max |input|, the most input rows of one
// call (the prefill's sequence length for a backbone linear, 64 x lanes for the expert) and the calls.
struct ActivationStats {
  std::map<std::string, float> amax;
  std::map<std::string, int64_t> rows, calls;
};

// Watches linear() calls of an executor whose values CpuOps::values() can read (the CPU executor).
// Thread-safe reads of stats() while another thread runs the executor.
class AmaxRecorder final : public ForwardingOps {
 public:
  explicit AmaxRecorder(model::Ops& cpu) : ForwardingOps(cpu) {}
  // Owns the executor it watches (a planner's executor: the recorder replaces it in the OpsExecutor).
  explicit AmaxRecorder(std::unique_ptr<model::Ops> cpu) : ForwardingOps(*cpu), owned_(std::move(cpu)) {}

  std::map<std::string, float> amax() const;
  ActivationStats stats() const;

 private:
  model::Value weight_impl(std::string_view name) override;
  model::Value reshape_impl(const model::Value& x, const Shape& target, const Shape& out) override;
  model::Value linear_impl(const model::Value& x, const model::Value& w, const model::Value& b, const Shape& out) override;

  std::unique_ptr<model::Ops> owned_;
  mutable std::mutex mu_;
  // Weight values by identity -> checkpoint name; a reshaped weight (vision patch embed) keeps its name.
  std::map<const model::ValueImpl*, std::string> names_;
  ActivationStats stats_;
};

// Runs vision, a prefill with image tokens, decode steps and expert steps `runs` times on the CPU
// executor (fp32) with seeded synthetic inputs, and returns the per-linear input amax.
std::map<std::string, float> calibrate_activation_amax(const model::ModelConfig& cfg, const model::WeightSource& weights,
                                                       int runs);

}  // namespace alp::exporter
