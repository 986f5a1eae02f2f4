// The ONNX protobuf encoder against bytes produced by Python's onnx package for the same message
// (test/fixtures/onnx/make_protobuf_fixture.py -> protobuf_fixture.hex).
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "export/onnx_proto.hpp"
#include "export/protobuf_writer.hpp"
#include "tests/check.hpp"

using namespace alp::exporter;

namespace {

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// The repository root: found from the working directory (tap runs the binary from the root; a developer
// from a build folder), then from __FILE__, which is relative when ccache's base_dir rewrites paths.
std::string repo_root() {
  for (const char* up : {".", "..", "../..", "../../.."})
    if (std::filesystem::exists(std::string(up) + "/test/fixtures/onnx/protobuf_fixture.hex")) return up;
  std::string f = __FILE__;
  return f.substr(0, f.rfind("/native/tests/"));
}

std::string raw(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

onnx::Model fixture_model() {
  using onnx::Attribute;
  using onnx::ElemType;
  onnx::Model m;
  m.ir_version = 10;
  m.producer_name = "alpamayo-trt";
  m.graph.name = "fixture";
  m.graph.nodes.push_back({{"x", "w"}, {"y"}, "y", "MatMul", "", {}});
  const int64_t c_vals[2] = {7, -1};
  onnx::TensorMsg c{"c", ElemType::Int64, {2}, raw(c_vals, sizeof c_vals), std::nullopt};
  m.graph.nodes.push_back({{"y"},
                           {"z"},
                           "z",
                           "Custom",
                           "com.example",
                           {Attribute::of_float("f", 1.5f), Attribute::of_int("i", -3),
                            Attribute::of_int("big", int64_t{1} << 40), Attribute::of_string("s", "tanh"),
                            Attribute::of_tensor("t", c), Attribute::of_floats("fs", {0.25f, -2.0f}),
                            Attribute::of_ints("is", {1, 0, -1, 300})}});
  const float w[6] = {0, 1, 2, 3, 4, 5};
  m.graph.initializers.push_back({"w", ElemType::Float, {3, 2}, raw(w, sizeof w), std::nullopt});
  m.graph.initializers.push_back(
      {"big.weight", ElemType::Float8E4M3FN, {4096, 1024}, "", onnx::ExternalLocation{"m.onnx.data", 128, 4194304}});
  m.graph.inputs.push_back({"x", ElemType::Float, {{0, "seq"}, {3, ""}}});
  m.graph.inputs.push_back({"ids", ElemType::Int64, {{0, ""}}});
  m.graph.outputs.push_back({"z", ElemType::Float, {{0, "seq"}, {2, ""}}});
  m.opset_imports.push_back({"", 21});
  return m;
}

}  // namespace

TEST(export_protobuf_varint_encodings) {
  auto enc = [](uint64_t v) {
    std::string s;
    ProtoWriter::append_varint(s, v);
    return hex(s);
  };
  CHECK_EQ(enc(0), std::string("00"));
  CHECK_EQ(enc(1), std::string("01"));
  CHECK_EQ(enc(127), std::string("7f"));
  CHECK_EQ(enc(128), std::string("8001"));
  CHECK_EQ(enc(300), std::string("ac02"));
  // int64 -1 is ten bytes on the wire (no zig-zag for plain int64).
  CHECK_EQ(enc(static_cast<uint64_t>(int64_t{-1})), std::string("ffffffffffffffffff01"));

  ProtoWriter w;
  w.int64(1, 150);        // the protobuf docs' example: 08 96 01
  w.string(2, "testing"); // 12 07 74 65 73 74 69 6e 67
  w.float32(5, 1.0f);     // 2d 00 00 80 3f
  w.fixed64(6, 1);        // 31 01 00 00 00 00 00 00 00
  CHECK_EQ(hex(w.data()), std::string("089601120774657374696e672d0000803f310100000000000000"));
}

TEST(export_protobuf_model_matches_python_onnx) {
  std::ifstream f(repo_root() + "/test/fixtures/onnx/protobuf_fixture.hex");
  CHECK(f.good());
  std::string expected;
  f >> expected;
  CHECK_EQ(expected.size(), size_t{840});  // 420 bytes
  const std::string got = hex(onnx::serialize(fixture_model()));
  CHECK_EQ(got.size(), expected.size());
  if (got != expected) {
    size_t i = 0;
    while (i < got.size() && i < expected.size() && got[i] == expected[i]) ++i;
    CHECK_EQ(got.substr(i / 2 * 2, 40), expected.substr(i / 2 * 2, 40));  // first differing bytes
  }
}
