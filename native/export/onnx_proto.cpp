#include "export/onnx_proto.hpp"

#include "core/error.hpp"
#include "export/protobuf_writer.hpp"

namespace alp::exporter::onnx {

size_t elem_size(ElemType t) {
  switch (t) {
    case ElemType::Float: case ElemType::Int32: return 4;
    case ElemType::Int64: case ElemType::Double: return 8;
    case ElemType::Float16: case ElemType::BFloat16: return 2;
    case ElemType::Uint8: case ElemType::Int8: case ElemType::Bool: case ElemType::Float8E4M3FN: return 1;
  }
  fail(ErrorCode::Internal, "unknown ONNX element type " + std::to_string(static_cast<int>(t)));
}

Attribute Attribute::of_float(std::string name, float v) {
  Attribute a; a.name = std::move(name); a.kind = Kind::Float; a.f = v; return a;
}
Attribute Attribute::of_int(std::string name, int64_t v) {
  Attribute a; a.name = std::move(name); a.kind = Kind::Int; a.i = v; return a;
}
Attribute Attribute::of_string(std::string name, std::string v) {
  Attribute a; a.name = std::move(name); a.kind = Kind::String; a.s = std::move(v); return a;
}
Attribute Attribute::of_tensor(std::string name, TensorMsg v) {
  Attribute a; a.name = std::move(name); a.kind = Kind::Tensor;
  a.t = std::make_shared<const TensorMsg>(std::move(v)); return a;
}
Attribute Attribute::of_floats(std::string name, std::vector<float> v) {
  Attribute a; a.name = std::move(name); a.kind = Kind::Floats; a.floats = std::move(v); return a;
}
Attribute Attribute::of_ints(std::string name, std::vector<int64_t> v) {
  Attribute a; a.name = std::move(name); a.kind = Kind::Ints; a.ints = std::move(v); return a;
}

// Repeated scalars are written unpacked: onnx.proto is proto2 and declares `packed` only on
// TensorProto's *_data fields, which we never use (raw_data instead).

std::string serialize(const TensorMsg& t) {
  ProtoWriter w;
  for (int64_t d : t.dims) w.int64(1, d);
  w.int64(2, static_cast<int32_t>(t.type));
  w.string(8, t.name);
  if (t.external) {
    const std::pair<const char*, std::string> entries[] = {
        {"location", t.external->location},
        {"offset", std::to_string(t.external->offset)},
        {"length", std::to_string(t.external->length)}};
    for (const auto& [key, value] : entries) {
      ProtoWriter kv;
      kv.string(1, key);
      kv.string(2, value);
      w.message(13, kv);
    }
    w.varint(14, 1);  // DataLocation.EXTERNAL
  } else {
    w.bytes(9, t.raw_data);
  }
  return w.release();
}

std::string serialize(const Attribute& a) {
  ProtoWriter w;
  w.string(1, a.name);
  switch (a.kind) {
    case Attribute::Kind::Float: w.float32(2, a.f); break;
    case Attribute::Kind::Int: w.int64(3, a.i); break;
    case Attribute::Kind::String: w.bytes(4, a.s); break;
    case Attribute::Kind::Tensor:
      require(a.t != nullptr, ErrorCode::Internal, "tensor attribute '" + a.name + "' has no tensor");
      w.bytes(5, serialize(*a.t));
      break;
    case Attribute::Kind::Floats: for (float f : a.floats) w.float32(7, f); break;
    case Attribute::Kind::Ints: for (int64_t i : a.ints) w.int64(8, i); break;
  }
  w.int64(20, static_cast<int32_t>(a.kind));
  return w.release();
}

std::string serialize(const Node& n) {
  ProtoWriter w;
  for (const auto& s : n.inputs) w.string(1, s);
  for (const auto& s : n.outputs) w.string(2, s);
  w.string(3, n.name);
  w.string(4, n.op_type);
  for (const auto& a : n.attributes) w.bytes(5, serialize(a));
  if (!n.domain.empty()) w.string(7, n.domain);
  return w.release();
}

std::string serialize(const ValueInfo& v) {
  ProtoWriter shape;
  for (const auto& d : v.dims) {
    ProtoWriter dim;
    if (d.param.empty()) dim.int64(1, d.value);
    else dim.string(2, d.param);
    shape.message(1, dim);
  }
  ProtoWriter tensor_type;
  tensor_type.int64(1, static_cast<int32_t>(v.type));
  tensor_type.message(2, shape);
  ProtoWriter type;
  type.message(1, tensor_type);
  ProtoWriter w;
  w.string(1, v.name);
  w.message(2, type);
  return w.release();
}

std::string serialize(const Graph& g) {
  ProtoWriter w;
  for (const auto& n : g.nodes) w.bytes(1, serialize(n));
  w.string(2, g.name);
  for (const auto& t : g.initializers) w.bytes(5, serialize(t));
  for (const auto& v : g.inputs) w.bytes(11, serialize(v));
  for (const auto& v : g.outputs) w.bytes(12, serialize(v));
  return w.release();
}

std::string serialize(const Model& m) {
  ProtoWriter w;
  w.int64(1, m.ir_version);
  w.string(2, m.producer_name);
  if (!m.producer_version.empty()) w.string(3, m.producer_version);
  w.bytes(7, serialize(m.graph));
  for (const auto& o : m.opset_imports) {
    ProtoWriter op;
    op.string(1, o.domain);  // always present, as onnx.helper.make_opsetid writes it
    op.int64(2, o.version);
    w.message(8, op);
  }
  return w.release();
}

}  // namespace alp::exporter::onnx
