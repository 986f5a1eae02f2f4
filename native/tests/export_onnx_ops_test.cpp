// OnnxOps: what it writes (initializer bytes, layout, names) and what it refuses. Numerical checks
// of every op run in onnxruntime via the op zoo (export_op_zoo_test.cpp + check_small_graphs.py).
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

#include "core/fp8_scale.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"
#include "export/onnx_ops.hpp"
#include "export/weight_encoding.hpp"
#include "tests/check.hpp"
#include "tests/temp_dir.hpp"

using namespace alp;
using namespace alp::exporter;

namespace {

struct Fixture {
  std::shared_ptr<std::map<std::string, Tensor, std::less<>>> w = std::make_shared<std::map<std::string, Tensor, std::less<>>>();
  model::WeightSource source() {
    auto m = w;
    return [m](std::string_view name) {
      auto it = m->find(name);
      require(it != m->end(), ErrorCode::InvalidCheckpoint, "missing tensor " + std::string(name));
      return it->second;
    };
  }
};

OnnxExportOptions opts(const test::TempDir& d, Precision p, int64_t opset = 24) {
  OnnxExportOptions o;
  o.path = d.path() + "/m.onnx";
  o.precision = p;
  o.opset = opset;
  return o;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

const onnx::TensorMsg* find_init(const GraphBuilder& g, const std::string& name) {
  for (const auto& t : g.graph().initializers)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace

TEST(export_onnx_linear_fp16_stores_transposed_narrowed_weight) {
  test::TempDir dir;
  Fixture fx;
  const std::vector<float> w = {1.0f, 2.0f, 3.0f, 0.1f, -0.5f, 65504.0f};  // [M=2, K=3]
  fx.w->emplace("p.weight", Tensor::from_f32({2, 3}, w));
  fx.w->emplace("p.bias", Tensor::from_f32({2}, std::vector<float>{0.25f, -1.0f}));
  OnnxOps ops(fx.source(), opts(dir, Precision::FP16));
  const std::vector<float> x(12, 1.0f);
  auto y = ops.linear(ops.input("x", {4, 3}, x), ops.weight("p.weight", {2, 3}), ops.weight("p.bias", {}));
  CHECK((y->shape == Shape{4, 2}));
  ops.read("y", y);
  ops.save();

  const auto* wt = find_init(ops.graph(), "p.weight.T");
  CHECK(wt != nullptr);
  if (!wt) return;
  CHECK(wt->external.has_value());
  CHECK((wt->dims == std::vector<int64_t>{3, 2}));
  CHECK(wt->type == onnx::ElemType::Float16);
  CHECK_EQ(wt->external->offset % 64, uint64_t{0});
  CHECK_EQ(wt->external->length, uint64_t{12});
  const std::string data = read_file(dir.path() + "/m.onnx.data");
  CHECK(data.size() >= wt->external->offset + wt->external->length);
  // Wᵀ row-major: [1, 0.1, 2, -0.5, 3, 65504], each rounded to fp16.
  const float expect[6] = {1.0f, 0.1f, 2.0f, -0.5f, 3.0f, 65504.0f};
  for (int i = 0; i < 6; ++i) {
    uint16_t h;
    std::memcpy(&h, data.data() + wt->external->offset + 2 * i, 2);
    CHECK_EQ(h, f32_to_f16(expect[i]));
  }
  CHECK_NEAR(f16_to_f32(f32_to_f16(0.1f)), 0.0999755859375, 0.0);
  // Only weights go external: the bias is a second aligned entry, small constants stay inline.
  const auto* b = find_init(ops.graph(), "p.bias");
  CHECK(b != nullptr && b->external.has_value() && b->external->offset % 64 == 0);
  CHECK_EQ(ops.linear_weight_names().size(), size_t{1});
  CHECK_EQ(ops.linear_weight_names().at(0), std::string("p.weight"));
  CHECK(read_file(dir.path() + "/m.onnx").size() > 100);
}

TEST(export_onnx_fp8_weight_scale_and_bytes) {
  const std::vector<float> w = {448.0f * 0.5f, -896.0f, 1.0f, 0.0f};  // amax 896 -> scale 2
  auto enc = encode_weight(Tensor::from_f32({2, 2}, w), onnx::ElemType::Float8E4M3FN, true, "w");
  CHECK_NEAR(enc.scale, 2.0, 0.0);
  CHECK((enc.dims == std::vector<int64_t>{2, 2}));
  // Transposed: [224/2, 1/2, -896/2, 0] = [112, 0.5, -448, 0]
  CHECK_NEAR(fp8e4m3_to_f32(static_cast<uint8_t>(enc.bytes[0])), 112.0, 0.0);
  CHECK_NEAR(fp8e4m3_to_f32(static_cast<uint8_t>(enc.bytes[1])), 0.5, 0.0);
  CHECK_NEAR(fp8e4m3_to_f32(static_cast<uint8_t>(enc.bytes[2])), -448.0, 0.0);
  CHECK_NEAR(fp8e4m3_to_f32(static_cast<uint8_t>(enc.bytes[3])), 0.0, 0.0);
  CHECK_NEAR(fp8_e4m3_scale(0.0f), 1.0, 0.0);
  CHECK_NEAR(fp8_e4m3_scale(44.8f), 0.1, 1e-7);
  CHECK_NEAR(fp8_e4m3_scale(INFINITY), 1.0, 0.0);  // never an Inf/NaN scale
  CHECK_NEAR(fp8_e4m3_scale(NAN), 1.0, 0.0);
}

TEST(export_onnx_refuses_bad_requests) {
  test::TempDir dir;
  Fixture fx;
  fx.w->emplace("p.weight", Tensor::from_f32({2, 3}, std::vector<float>(6, 0.5f)));
  {
    OnnxOps ops(fx.source(), opts(dir, Precision::FP32));
    CHECK_THROWS_CODE(ops.weight("p.weight", {3, 2}), ErrorCode::InvalidCheckpoint, "expected shape [3, 2]");
    CHECK_THROWS_CODE(ops.weight("nope", {}), ErrorCode::InvalidCheckpoint, "missing tensor nope");
    auto x = ops.input("x", {4, 5}, std::vector<float>(20, 0.0f));
    // A shape violation is the front door's (model/ops.cpp): Internal, as on every backend.
    CHECK_THROWS_CODE(ops.linear(x, ops.weight("p.weight", {}), nullptr), ErrorCode::Internal, "[4, 5]");
    CHECK_THROWS_CODE(ops.input("x", {1}, std::vector<float>(1, 0.0f)), ErrorCode::InvalidInput, "duplicate");
    ops.kv_reserve(2, 16, 1, 4);
    auto k = ops.input("k", {2, 1, 4}, std::vector<float>(8, 0.0f));
    ops.kv_write(0, 3, k, k);
    CHECK_THROWS_CODE(ops.kv_write(0, 3, k, k), ErrorCode::InvalidInput, "layer 0 written twice");
    CHECK_THROWS_CODE(ops.kv_write(1, 4, k, k), ErrorCode::InvalidInput, "written at 4, the graph's write index traces 3");
    CHECK_THROWS_CODE(ops.kv_read(2, 1), ErrorCode::Internal, "outside the reserved 2 layers");
    // The cache view feeds attention only (it is the whole [lanes, Hkv, capacity, D] cache).
    auto [ck, cv] = ops.kv_read(0, 5);
    CHECK_THROWS_CODE(ops.add(ck, ck), ErrorCode::Internal, "may only feed attention");
    CHECK_THROWS_CODE(ops.kv_share(3, 2), ErrorCode::InvalidInput, "traced for one lane");
    // index_add_rows exports as Gather + Add + ScatterND "none": exact for distinct rows only.
    auto rows = ops.input("rows", {3, 2}, std::vector<float>(6, 0.0f));
    auto src = ops.input("src", {2, 2}, std::vector<float>(4, 1.0f));
    CHECK_THROWS_CODE(ops.index_add_rows(rows, ops.input_index("dup", {2}, std::vector<int64_t>{1, 1}), src),
                      ErrorCode::InvalidInput, "repeats a row");
    ops.index_add_rows(rows, ops.input_index("distinct", {2}, std::vector<int64_t>{2, 0}), src);
  }
  {
    auto o = opts(dir, Precision::FP8);
    OnnxOps ops(fx.source(), o);
    auto x = ops.input("x", {4, 3}, std::vector<float>(12, 0.0f));
    CHECK_THROWS_CODE(ops.linear(x, ops.weight("p.weight", {}), nullptr), ErrorCode::InvalidInput,
                      "no calibrated activation amax for the input of linear 'p.weight'");
  }
  CHECK_THROWS_CODE(OnnxOps(fx.source(), opts(dir, Precision::FP8, 17)), ErrorCode::InvalidInput, "opset >= 19");
  {
    OnnxOps ops(fx.source(), opts(dir, Precision::FP32, 23));
    ops.kv_reserve(1, 16, 1, 4);
    auto k = ops.input("k", {2, 1, 4}, std::vector<float>(8, 0.0f));
    CHECK_THROWS_CODE(ops.kv_write(0, 3, k, k), ErrorCode::InvalidInput, "needs ONNX opset >= 24, got 23");
  }
  {
    auto o = opts(dir, Precision::FP32);
    o.dynamic_dims["x"] = {"seq", ""};
    o.dynamic_dims["z"] = {"n", ""};
    OnnxOps ops(fx.source(), o);
    CHECK_THROWS_CODE(ops.input("x", {1, 3}, std::vector<float>(3, 0.0f)), ErrorCode::InvalidInput,
                      "traced with size 1");
    auto x = ops.input("x", {6, 4}, std::vector<float>(24, 0.0f));
    // [seq, 4] -> [2, 12] has nowhere to put seq.
    CHECK_THROWS_CODE(ops.reshape(x, {2, 12}), ErrorCode::InvalidInput, "would freeze dynamic dim 'seq'");
    // n traced as 6 collides with a fixed 6 in the target.
    auto z = ops.input("z", {6, 6}, std::vector<float>(36, 0.0f));
    CHECK_THROWS_CODE(ops.reshape(z, {6, 6}), ErrorCode::InvalidInput, "matches several target dims");
  }
}

TEST(export_onnx_dynamic_dims_reach_graph_inputs_and_outputs) {
  test::TempDir dir;
  Fixture fx;
  auto o = opts(dir, Precision::FP32);
  o.dynamic_dims["q"] = {"seq", "", ""};
  OnnxOps ops(fx.source(), o);
  ops.kv_reserve(1, 64, 2, 4);
  auto q = ops.input("q", {5, 2, 4}, std::vector<float>(40, 0.0f));
  ops.kv_write(0, 3, q, q);
  auto [k, v] = ops.kv_read(0, 8);
  CHECK((k->shape == Shape{8, 2, 4}));
  ops.read("y", ops.attention(q, k, v, model::AttentionMask::causal(3), 0.5f));
  ops.save();
  const auto& g = ops.graph().graph();
  // q, kv_write_index [lanes], past_key/value.0 [lanes, 2, capacity 64 (static), 4].
  CHECK_EQ(g.inputs.size(), size_t{4});
  CHECK_EQ(g.inputs[0].dims[0].param, std::string("seq"));
  CHECK_EQ(g.inputs[1].name, std::string("kv_write_index"));
  CHECK_EQ(g.inputs[1].dims[0].param, std::string("lanes"));
  CHECK_EQ(g.inputs[2].name, std::string("past_key.0"));
  CHECK_EQ(g.inputs[2].dims[0].param, std::string("lanes"));
  CHECK_EQ(g.inputs[2].dims[1].value, int64_t{2});
  CHECK_EQ(g.inputs[2].dims[2].value, int64_t{64});
  CHECK(g.inputs[2].dims[2].param.empty());
  CHECK_EQ(g.inputs[3].name, std::string("past_value.0"));
  CHECK_EQ(g.outputs.size(), size_t{3});
  CHECK_EQ(g.outputs[0].name, std::string("y"));
  CHECK_EQ(g.outputs[0].dims[0].param, std::string("seq"));
  CHECK_EQ(g.outputs[1].name, std::string("present_key.0"));
  CHECK_EQ(g.outputs[1].dims[2].value, int64_t{64});
  CHECK_EQ(g.outputs[2].name, std::string("present_value.0"));
  // present_* is the TensorScatter output itself (what TensorRT aliases to past_*).
  bool scatter = false;
  for (const auto& n : g.nodes)
    if (n.op_type == "TensorScatter" && n.outputs.at(0) == "present_key.0") scatter = n.inputs.at(0) == "past_key.0";
  CHECK(scatter);
  CHECK_EQ(ops.sample_inputs().size(), size_t{4});
}
