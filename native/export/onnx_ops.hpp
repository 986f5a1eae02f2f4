#pragma once
// OnnxOps: the model::Ops backend that records instead of computing. Running the model code (vision,
// backbone prefill/decode, expert step) against it writes that very network to ONNX for TensorRT.
// Conventions (graph inputs/outputs, KV cache, dynamic dims, precisions): native/export/README.md.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/precision.hpp"
#include "core/tensor.hpp"
#include "export/onnx_graph.hpp"
#include "model/ops.hpp"

namespace alp::exporter {

// How weights are stored. Activations stay fp32 in the graph (the Ops contract is fp32 semantics):
// F16/BF16 store weights narrowed and Cast them up; FP8 stores linear weights as float8e4m3fn with
// a per-tensor scale (amax/448) behind DequantizeLinear, quantises each linear's input with a
// calibrated QuantizeLinear/DequantizeLinear pair, and stores the other weights as fp16.
// (alp::Precision: the same spelling as the executors'.)


struct OnnxExportOptions {
  std::string path;  // the .onnx file; weights go to `path + ".data"`
  std::string graph_name = "alpamayo";
  int64_t opset = 21;
  Precision precision = Precision::FP16;
  // Graph input name -> one symbolic name per axis ("" = fixed). Axes with equal names share a size.
  std::map<std::string, std::vector<std::string>> dynamic_dims;
  // FP8 only: max |x| of each linear's input over calibration runs, keyed by the linear's weight name.
  std::map<std::string, float> activation_amax;
  // Symbolic name of the KV-cache length axis of past_key.* / past_value.*.
  std::string past_len_dim = "past_len";
};

class OnnxOps final : public model::Ops {
 public:
  OnnxOps(model::WeightSource weights, OnnxExportOptions options);
  ~OnnxOps() override;

  model::Value input(std::string_view name, Shape shape, std::span<const float> data) override;
  model::Value input_index(std::string_view name, Shape shape, std::span<const int64_t> data) override;
  model::Value weight(std::string_view name, const Shape& expected) override;
  std::vector<float> read(std::string_view name, const model::Value& v) override;

  model::Value linear(const model::Value& x, const model::Value& w, const model::Value& b) override;
  model::Value rms_norm(const model::Value& x, const model::Value& w, float eps) override;
  model::Value layer_norm(const model::Value& x, const model::Value& w, const model::Value& b, float eps) override;
  model::Value rope(const model::Value& x, const model::Value& cos, const model::Value& sin) override;
  model::Value attention(const model::Value& q, const model::Value& k, const model::Value& v,
                         model::AttentionMask mask, float scale) override;

  model::Value silu(const model::Value& x) override;
  model::Value gelu_tanh(const model::Value& x) override;
  model::Value gelu_erf(const model::Value& x) override;
  model::Value add(const model::Value& a, const model::Value& b) override;
  model::Value mul(const model::Value& a, const model::Value& b) override;
  model::Value scale(const model::Value& x, float s) override;
  model::Value fourier_features(const model::Value& x, std::span<const float> freqs) override;

  model::Value embedding(const model::Value& table, const model::Value& ids) override;
  model::Value interp_rows(const model::Value& table, const model::Value& idx, const model::Value& w) override;
  model::Value scatter_rows(const model::Value& x, const model::Value& idx, const model::Value& src) override;
  model::Value index_add_rows(const model::Value& x, const model::Value& idx, const model::Value& src) override;
  model::Value slice(const model::Value& x, int axis, int64_t begin, int64_t end) override;
  model::Value concat(const std::vector<model::Value>& xs, int axis) override;
  model::Value reshape(const model::Value& x, Shape shape) override;
  model::Value transpose(const model::Value& x, std::vector<int> perm) override;
  model::Value expand_rows(const model::Value& x, int64_t n) override;

  void kv_reserve(int64_t layers, int64_t capacity, int64_t kv_heads, int64_t head_dim) override;
  void kv_write(int64_t layer, int64_t pos, const model::Value& k, const model::Value& v) override;
  std::pair<model::Value, model::Value> kv_read(int64_t layer, int64_t len) override;

  // Adds the present_key/value outputs and writes `path` and `path.data`. Call once, after tracing.
  void save();

  // The trace data given to input()/input_index(), in graph-input order (F32 or I64 tensors), so a
  // caller can run the exported graph on exactly the traced example.
  const std::vector<std::pair<std::string, Tensor>>& sample_inputs() const { return samples_; }
  // FP8 calibration: the weight names of every linear traced so far (the activation_amax keys).
  const std::vector<std::string>& linear_weight_names() const { return linear_names_; }
  const GraphBuilder& graph() const { return g_; }

 private:
  struct Impl;
  GraphBuilder g_;
  std::unique_ptr<Impl> impl_;
  std::vector<std::pair<std::string, Tensor>> samples_;
  std::vector<std::string> linear_names_;
};

}  // namespace alp::exporter
