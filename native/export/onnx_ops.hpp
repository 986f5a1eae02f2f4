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

// The graph's precision (alp::Precision, the executors' spelling), typed into the graph itself
// (TensorRT builds it strongly typed): FP32, FP16 and BF16 hold activations, weights and the KV cache
// in that type, with fp32 only where numerics need it (the RMSNorm reduction, LayerNormalization's
// stash, Fourier features) and at the float32 host boundary (graph inputs are Cast in, outputs Cast
// out). FP8 computes in fp16 and stores each linear weight as float8e4m3fn with a per-tensor scale
// behind DequantizeLinear, quantising the linear's input with a calibrated QuantizeLinear/
// DequantizeLinear pair; linears for which keeps_high_precision() holds stay fp16.
onnx::ElemType compute_type(Precision p);
// FP8 exclusions, as NVIDIA ModelOpt quantises Alpamayo: the vision tower, lm_head and the action
// in/out projections stay in the compute type.
bool keeps_high_precision(std::string_view weight_name);


struct OnnxExportOptions {
  std::string path;  // the .onnx file; weights go to `path + ".data"`
  std::string graph_name = "alpamayo";
  int64_t opset = 24;  // 24: TensorScatter, the in-place KV cache
  Precision precision = Precision::FP16;
  // Graph input name -> one symbolic name per axis ("" = fixed). Axes with equal names share a size.
  std::map<std::string, std::vector<std::string>> dynamic_dims;
  // FP8 only: max |x| of each linear's input over calibration runs, keyed by the linear's weight name.
  std::map<std::string, float> activation_amax;
};

class OnnxOps final : public model::Ops {
 public:
  struct Impl;  // defined in onnx_ops.cpp

  OnnxOps(model::WeightSource weights, OnnxExportOptions options);
  ~OnnxOps() override;

  std::vector<float> read(std::string_view name, const model::Value& v) override;

  // Adds the present_key/value outputs and writes `path` and `path.data`. Call once, after tracing.
  void save();

  // The trace data given to input()/input_index(), in graph-input order (F32 or I64 tensors), so a
  // caller can run the exported graph on exactly the traced example.
  const std::vector<std::pair<std::string, Tensor>>& sample_inputs() const { return samples_; }
  // FP8 calibration: the weight names of every linear traced so far (the activation_amax keys).
  const std::vector<std::string>& linear_weight_names() const { return linear_names_; }
  const GraphBuilder& graph() const { return g_; }

 private:
  // ---- model::Ops: the backend behind the checked front door (shapes already validated) ----
  model::Value input_impl(std::string_view name, Shape shape, std::span<const float> data) override;
  model::Value input_index_impl(std::string_view name, Shape shape, std::span<const int64_t> data) override;
  model::Value weight_impl(std::string_view name) override;
  model::Value linear_impl(const model::Value& x, const model::Value& w, const model::Value& b, const Shape& out) override;
  model::Value rms_norm_impl(const model::Value& x, const model::Value& w, float eps) override;
  model::Value layer_norm_impl(const model::Value& x, const model::Value& w, const model::Value& b, float eps) override;
  model::Value rope_impl(const model::Value& x, const model::Value& cos, const model::Value& sin) override;
  model::Value attention_impl(const model::Value& q, const model::Value& k, const model::Value& v, model::AttentionMask mask,
                              float scale) override;
  model::Value attention_in_place(const model::Value& q, const model::Value& k, const model::Value& v, model::AttentionMask mask,
                                  float scale);
  model::Value silu_impl(const model::Value& x) override;
  model::Value gelu_tanh_impl(const model::Value& x) override;
  model::Value gelu_erf_impl(const model::Value& x) override;
  model::Value swiglu_impl(const model::Value& gate_up, const Shape& out) override;
  model::Value add_impl(const model::Value& a, const model::Value& b) override;
  model::Value mul_impl(const model::Value& a, const model::Value& b) override;
  model::Value scale_impl(const model::Value& x, float s) override;
  model::Value fourier_features_impl(const model::Value& x, std::span<const float> freqs, const Shape& out) override;
  model::Value embedding_impl(const model::Value& table, const model::Value& ids, const Shape& out) override;
  model::Value interp_rows_impl(const model::Value& table, const model::Value& idx, const model::Value& w,
                                const Shape& out) override;
  model::Value scatter_rows_impl(const model::Value& x, const model::Value& idx, const model::Value& src) override;
  model::Value index_add_rows_impl(const model::Value& x, const model::Value& idx, const model::Value& src) override;
  model::Value slice_impl(const model::Value& x, int axis, int64_t begin, int64_t end, const Shape& out) override;
  model::Value concat_impl(const std::vector<model::Value>& xs, int axis, const Shape& out) override;
  model::Value reshape_impl(const model::Value& x, const Shape& target, const Shape& out) override;
  model::Value transpose_impl(const model::Value& x, const std::vector<int>& perm, const Shape& out) override;
  model::Value expand_rows_impl(const model::Value& x, int64_t n, const Shape& out) override;
  void kv_reserve_impl(const model::KvGeometry& g) override;
  // The graphs are traced for lane 0; their lane count is the run-time batch of kv_write_index.
  void kv_share_impl(int64_t shared, int64_t lanes) override;
  void kv_write_impl(int64_t layer, int64_t pos, const model::Value& k, const model::Value& v, int64_t lane) override;
  std::pair<model::Value, model::Value> kv_read_impl(int64_t layer, int64_t len, int64_t lane) override;

  GraphBuilder g_;
  std::unique_ptr<Impl> impl_;
  std::vector<std::pair<std::string, Tensor>> samples_;
  std::vector<std::string> linear_names_;
};

}  // namespace alp::exporter
