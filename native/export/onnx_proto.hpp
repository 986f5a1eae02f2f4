#pragma once
// The subset of onnx.proto (IR v10, opset 17..23) the exporter writes, as plain structs, and their
// serialisation to protobuf bytes. Field numbers are those of the public onnx.proto; fields are
// emitted in ascending number order (as protobuf runtimes do) so that the bytes equal Python's.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace alp::exporter::onnx {

// TensorProto.DataType values.
enum class ElemType : int32_t {
  Float = 1, Uint8 = 2, Int8 = 3, Int32 = 6, Int64 = 7, Bool = 9, Float16 = 10, Double = 11,
  BFloat16 = 16, Float8E4M3FN = 17,
};
size_t elem_size(ElemType t);

struct ExternalLocation {
  std::string location;  // file name relative to the .onnx file
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct TensorMsg {
  std::string name;
  ElemType type = ElemType::Float;
  std::vector<int64_t> dims;
  std::string raw_data;                       // little-endian element bytes, when inline
  std::optional<ExternalLocation> external;   // when the bytes live in the external data file
};

struct Attribute {
  // AttributeProto.AttributeType values.
  enum class Kind : int32_t { Float = 1, Int = 2, String = 3, Tensor = 4, Floats = 6, Ints = 7 };
  std::string name;
  Kind kind = Kind::Int;
  float f = 0;
  int64_t i = 0;
  std::string s;
  std::shared_ptr<const TensorMsg> t;
  std::vector<float> floats;
  std::vector<int64_t> ints;

  static Attribute of_float(std::string name, float v);
  static Attribute of_int(std::string name, int64_t v);
  static Attribute of_string(std::string name, std::string v);
  static Attribute of_tensor(std::string name, TensorMsg v);
  static Attribute of_floats(std::string name, std::vector<float> v);
  static Attribute of_ints(std::string name, std::vector<int64_t> v);
};

struct Node {
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::string name;
  std::string op_type;
  std::string domain;  // empty = the default ai.onnx domain (field omitted)
  std::vector<Attribute> attributes;
};

// A dimension is a fixed size (`param` empty) or a symbolic name (dim_param).
struct Dim {
  int64_t value = 0;
  std::string param;
};

struct ValueInfo {
  std::string name;
  ElemType type = ElemType::Float;
  std::vector<Dim> dims;
};

struct Graph {
  std::vector<Node> nodes;
  std::string name;
  std::vector<TensorMsg> initializers;
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
};

struct OpsetImport {
  std::string domain;  // "" = ai.onnx
  int64_t version = 0;
};

struct Model {
  int64_t ir_version = 10;
  std::string producer_name;
  std::string producer_version;
  Graph graph;
  std::vector<OpsetImport> opset_imports;
};

std::string serialize(const TensorMsg& t);
std::string serialize(const Attribute& a);
std::string serialize(const Node& n);
std::string serialize(const ValueInfo& v);
std::string serialize(const Graph& g);
std::string serialize(const Model& m);

}  // namespace alp::exporter::onnx
