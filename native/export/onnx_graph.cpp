#include "export/onnx_graph.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/dtype.hpp"
#include "core/error.hpp"

namespace alp::exporter {

std::string file_name_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

GraphBuilder::GraphBuilder(std::string path, std::string graph_name, int64_t opset)
    : path_(std::move(path)), opset_(opset) {
  require(opset >= 17 && opset <= 24, ErrorCode::InvalidInput,
          "ONNX opset must be in [17, 24], got " + std::to_string(opset));
  graph_.name = std::move(graph_name);
  data_ = std::make_unique<ExternalDataFile>(path_ + ".data", file_name_of(path_) + ".data");
}

std::string GraphBuilder::unique(std::string_view base) {
  std::string b(base.empty() ? "v" : base);
  auto it = name_counts_.find(b);
  if (it == name_counts_.end()) {
    name_counts_.emplace(b, 0);
    return b;
  }
  // A generated "x_1" could collide with a user-chosen "x_1"; loop until free.
  for (;;) {
    std::string candidate = b + "_" + std::to_string(++it->second);
    if (!name_counts_.count(candidate)) {
      name_counts_.emplace(candidate, 0);
      return candidate;
    }
  }
}

std::vector<std::string> GraphBuilder::add_node(std::string_view op_type, std::vector<std::string> inputs,
                                                std::vector<onnx::Attribute> attrs, size_t n_outputs,
                                                std::string_view out_base) {
  onnx::Node n;
  n.op_type = std::string(op_type);
  n.inputs = std::move(inputs);
  n.attributes = std::move(attrs);
  for (size_t i = 0; i < n_outputs; ++i) n.outputs.push_back(unique(out_base.empty() ? op_type : out_base));
  n.name = n.outputs.front();
  graph_.nodes.push_back(std::move(n));
  return graph_.nodes.back().outputs;
}

std::string GraphBuilder::op(std::string_view op_type, std::vector<std::string> inputs,
                             std::vector<onnx::Attribute> attrs, std::string_view out_base) {
  return add_node(op_type, std::move(inputs), std::move(attrs), 1, out_base).front();
}

std::string GraphBuilder::const_raw(onnx::ElemType type, std::string raw, std::vector<int64_t> dims,
                                    std::string_view base) {
  std::string key = std::to_string(static_cast<int>(type)) + ":";
  for (int64_t d : dims) key += std::to_string(d) + ",";
  key += ":" + raw;
  if (auto it = const_cache_.find(key); it != const_cache_.end()) return it->second;
  onnx::TensorMsg t;
  t.name = unique(base);
  t.type = type;
  t.dims = std::move(dims);
  t.raw_data = std::move(raw);
  graph_.initializers.push_back(t);
  const_cache_.emplace(std::move(key), t.name);
  return t.name;
}

std::string GraphBuilder::const_i64(const std::vector<int64_t>& values, std::vector<int64_t> dims) {
  std::string raw(values.size() * sizeof(int64_t), '\0');
  std::memcpy(raw.data(), values.data(), raw.size());  // little-endian hosts only (x86-64, aarch64)
  return const_raw(onnx::ElemType::Int64, std::move(raw), std::move(dims), "const_i64");
}

std::string GraphBuilder::const_f32(const std::vector<float>& values, std::vector<int64_t> dims) {
  std::string raw(values.size() * sizeof(float), '\0');
  std::memcpy(raw.data(), values.data(), raw.size());
  return const_raw(onnx::ElemType::Float, std::move(raw), std::move(dims), "const_f32");
}

std::string GraphBuilder::const_float(onnx::ElemType type, const std::vector<float>& values, std::vector<int64_t> dims) {
  if (type == onnx::ElemType::Float) return const_f32(values, std::move(dims));
  require(type == onnx::ElemType::Float16 || type == onnx::ElemType::BFloat16, ErrorCode::Internal,
          "const_float: element type " + std::to_string(static_cast<int>(type)) + " is not a float type");
  std::string raw(values.size() * 2, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    // Round to nearest even, as every narrowed weight (core/dtype).
    const uint16_t b = type == onnx::ElemType::Float16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
    std::memcpy(raw.data() + 2 * i, &b, 2);
  }
  return const_raw(type, std::move(raw), std::move(dims), type == onnx::ElemType::Float16 ? "const_f16" : "const_bf16");
}

std::string GraphBuilder::external_initializer(std::string_view name, onnx::ElemType type,
                                               std::vector<int64_t> dims, std::string_view bytes) {
  onnx::TensorMsg t;
  t.name = unique(name);
  t.type = type;
  t.dims = std::move(dims);
  t.external = data_->append(bytes);
  graph_.initializers.push_back(std::move(t));
  return graph_.initializers.back().name;
}

void GraphBuilder::add_input(onnx::ValueInfo v) {
  require(!has_input(v.name), ErrorCode::InvalidInput, "duplicate ONNX graph input '" + v.name + "'");
  name_counts_.emplace(v.name, 0);
  graph_.inputs.push_back(std::move(v));
}

void GraphBuilder::add_output(onnx::ValueInfo v) {
  for (const auto& o : graph_.outputs)
    require(o.name != v.name, ErrorCode::InvalidInput, "duplicate ONNX graph output '" + v.name + "'");
  graph_.outputs.push_back(std::move(v));
}

bool GraphBuilder::has_input(std::string_view name) const {
  for (const auto& i : graph_.inputs)
    if (i.name == name) return true;
  return false;
}

onnx::Model GraphBuilder::model() const {
  onnx::Model m;
  // The IR version that shipped with the opset (ONNX 1.16: IR 10 / opset 21, 1.18: IR 11 / opset 23,
  // 1.19: IR 12 / opset 24);
  // older opsets load under a newer IR.
  m.ir_version = opset_ >= 24 ? 12 : opset_ >= 23 ? 11 : 10;
  m.producer_name = "alpamayo-trt";
  m.graph = graph_;
  m.opset_imports.push_back({"", opset_});
  return m;
}

void GraphBuilder::save() {
  require(!saved_, ErrorCode::Internal, "ONNX graph '" + graph_.name + "' saved twice");
  data_->flush();
  const std::string bytes = onnx::serialize(model());
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path_.c_str(), "wb"), &std::fclose);
  require(f != nullptr, ErrorCode::InvalidInput,
          "cannot create ONNX file '" + path_ + "': " + std::strerror(errno));
  require(std::fwrite(bytes.data(), 1, bytes.size(), f.get()) == bytes.size(), ErrorCode::InvalidInput,
          "cannot write ONNX file '" + path_ + "': " + std::strerror(errno));
  saved_ = true;
}

}  // namespace alp::exporter
