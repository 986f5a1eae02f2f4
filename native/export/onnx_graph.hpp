#pragma once
// Incremental ONNX graph construction: unique value names, nodes, inline constants (deduplicated),
// external initializers, graph inputs with symbolic dims, outputs, and saving `<path>` plus
// `<path>.data`.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "export/external_data.hpp"
#include "export/onnx_proto.hpp"

namespace alp::exporter {

class GraphBuilder {
 public:
  // `path`: the .onnx file to write on save(); weights stream into `<path>.data` from the start.
  GraphBuilder(std::string path, std::string graph_name, int64_t opset);

  int64_t opset() const { return opset_; }
  const std::string& path() const { return path_; }

  // A fresh value name: `base` if unused, else `base_1`, `base_2`, ...
  std::string unique(std::string_view base);

  // Appends a node with `n_outputs` fresh outputs named after `out_base` (or the op type).
  std::vector<std::string> add_node(std::string_view op_type, std::vector<std::string> inputs,
                                    std::vector<onnx::Attribute> attrs = {}, size_t n_outputs = 1,
                                    std::string_view out_base = {});
  // Single-output shorthand.
  std::string op(std::string_view op_type, std::vector<std::string> inputs,
                 std::vector<onnx::Attribute> attrs = {}, std::string_view out_base = {});

  // Small constants go inline in the protobuf and are shared between identical requests.
  std::string const_i64(const std::vector<int64_t>& values, std::vector<int64_t> dims);
  std::string const_i64_1d(const std::vector<int64_t>& values) {
    return const_i64(values, {static_cast<int64_t>(values.size())});
  }
  std::string const_f32(const std::vector<float>& values, std::vector<int64_t> dims);
  std::string const_scalar_f32(float v) { return const_f32({v}, {}); }
  // A float constant of element type Float, Float16 or BFloat16 (values rounded to nearest even).
  std::string const_float(onnx::ElemType type, const std::vector<float>& values, std::vector<int64_t> dims);
  std::string const_scalar(onnx::ElemType type, float v) { return const_float(type, {v}, {}); }
  std::string const_raw(onnx::ElemType type, std::string raw, std::vector<int64_t> dims,
                        std::string_view base);

  // A weight: bytes go to the external data file, never inline. Returns the initializer name
  // (`name` made unique).
  std::string external_initializer(std::string_view name, onnx::ElemType type, std::vector<int64_t> dims,
                                   std::string_view bytes);

  void add_input(onnx::ValueInfo v);
  void add_output(onnx::ValueInfo v);
  bool has_input(std::string_view name) const;

  const onnx::Graph& graph() const { return graph_; }
  onnx::Model model() const;
  // Writes the .onnx file (and flushes the external data file). May be called once.
  void save();

 private:
  std::string path_;
  int64_t opset_;
  onnx::Graph graph_;
  std::map<std::string, int, std::less<>> name_counts_;
  std::map<std::string, std::string> const_cache_;
  std::unique_ptr<ExternalDataFile> data_;
  bool saved_ = false;
};

// File name part of a path ("a/b/x.onnx" -> "x.onnx").
std::string file_name_of(const std::string& path);

}  // namespace alp::exporter
