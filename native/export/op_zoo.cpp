#include "export/op_zoo.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "core/error.hpp"
#include "export/npy_writer.hpp"
#include "export/onnx_ops.hpp"

namespace alp::exporter {

namespace {

using model::Value;
using Weights = std::map<std::string, Tensor, std::less<>>;

std::string json_str(const std::string& s) { return "\"" + s + "\""; }

// One zoo graph. Weights and inputs are seeded per case name so the files are reproducible.
class ZooCase {
 public:
  struct Config {
    std::string op;
    Precision precision = Precision::FP32;
    int64_t opset = 21;
    std::map<std::string, std::vector<std::string>> dynamic_dims = {};
    std::map<std::string, float> activation_amax = {};
  };

  ZooCase(const std::string& dir, std::string name, Config cfg)
      : dir_(dir), name_(std::move(name)), cfg_(cfg), weights_(std::make_shared<Weights>()),
        rng_(static_cast<uint32_t>(std::hash<std::string>{}(name_) & 0xffffffffu)),
        ops_(source(weights_), options(dir, name_, cfg)) {}

  OnnxOps& ops() { return ops_; }

  Value weight(const std::string& name, Shape shape) {
    Tensor t = random(shape);
    weights_->emplace(name, t);
    weight_files_.emplace_back(name, t);
    return ops_.weight(name, shape);
  }
  Value input(const std::string& name, Shape shape) {
    Tensor t = random(shape);
    return ops_.input(name, shape, std::span<const float>(t.as<float>(), static_cast<size_t>(t.numel())));
  }
  Value index(const std::string& name, Shape shape, std::vector<int64_t> data) {
    return ops_.input_index(name, std::move(shape), data);
  }
  void output(const std::string& name, const Value& v) {
    ops_.read(name, v);
  }
  void param(const std::string& key, const std::string& json) { params_.emplace_back(key, json); }
  void param(const std::string& key, double v) {
    std::ostringstream os;
    os.precision(9);
    os << v;
    param(key, os.str());
  }
  // Extra run-time sizes for the dynamic dims, as a JSON list of {dim: size} objects.
  void alt_sizes(const std::string& json) { alt_ = json; }

  // Saves the graph and the .npy files; returns this case's manifest entry.
  std::string finish() {
    ops_.save();
    std::string weights = "{", inputs = "{", outputs = "[", params = "{";
    for (size_t i = 0; i < weight_files_.size(); ++i) {
      const auto& [n, t] = weight_files_[i];
      const std::string file = name_ + ".w." + n + ".npy";
      write_npy(dir_ + "/" + file, t);
      weights += (i ? ", " : "") + json_str(n) + ": " + json_str(file);
    }
    const auto& samples = ops_.sample_inputs();
    for (size_t i = 0; i < samples.size(); ++i) {
      const std::string file = name_ + ".in." + samples[i].first + ".npy";
      write_npy(dir_ + "/" + file, samples[i].second);
      inputs += (i ? ", " : "") + json_str(samples[i].first) + ": " + json_str(file);
    }
    // All graph outputs, including the present_key/value ones save() adds.
    const auto& outs = ops_.graph().graph().outputs;
    for (size_t i = 0; i < outs.size(); ++i) outputs += (i ? ", " : "") + json_str(outs[i].name);
    for (size_t i = 0; i < params_.size(); ++i)
      params += (i ? ", " : "") + json_str(params_[i].first) + ": " + params_[i].second;
    return "{\"name\": " + json_str(name_) + ", \"op\": " + json_str(cfg_.op) + ", \"model\": " +
           json_str(name_ + ".onnx") + ", \"precision\": " + json_str(std::string(precision_name(cfg_.precision))) +
           ", \"opset\": " + std::to_string(cfg_.opset) + ", \"weights\": " + weights + "}, \"inputs\": " + inputs +
           "}, \"outputs\": " + outputs + "], \"params\": " + params + "}, \"alt_sizes\": " + alt_ + "}";
  }

 private:
  static model::WeightSource source(std::shared_ptr<Weights> w) {
    return [w](std::string_view name) {
      auto it = w->find(name);
      require(it != w->end(), ErrorCode::InvalidCheckpoint, "missing tensor " + std::string(name));
      return it->second;
    };
  }
  static OnnxExportOptions options(const std::string& dir, const std::string& name, const Config& cfg) {
    OnnxExportOptions o;
    o.path = dir + "/" + name + ".onnx";
    o.graph_name = name;
    o.opset = cfg.opset;
    o.precision = cfg.precision;
    o.dynamic_dims = cfg.dynamic_dims;
    o.activation_amax = cfg.activation_amax;
    return o;
  }
  Tensor random(const Shape& shape) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
    for (auto& x : v) x = u(rng_);
    return Tensor::from_f32(shape, v);
  }

  std::string dir_, name_;
  Config cfg_;
  std::shared_ptr<Weights> weights_;
  std::mt19937 rng_;
  OnnxOps ops_;
  std::vector<std::pair<std::string, Tensor>> weight_files_;
  std::vector<std::pair<std::string, std::string>> params_;
  std::string alt_ = "[]";
};

using Builder = std::function<void(ZooCase&)>;
struct Entry {
  std::string name;
  ZooCase::Config cfg;
  Builder build;
};

std::vector<Entry> zoo() {
  using P = Precision;
  std::vector<Entry> e;
  auto linear = [](bool bias) {
    return [bias](ZooCase& c) {
      auto x = c.input("x", {5, 8});
      auto w = c.weight("proj.weight", {6, 8});
      auto b = bias ? c.weight("proj.bias", {6}) : nullptr;
      c.output("y", c.ops().linear(x, w, b));
    };
  };
  e.push_back({"linear", {"linear"}, linear(true)});
  e.push_back({"linear_nobias", {"linear"}, linear(false)});
  e.push_back({"linear_fp16", {"linear", P::FP16}, linear(true)});
  e.push_back({"linear_bf16", {"linear", P::BF16}, linear(true)});
  e.push_back({"linear_fp8", {"linear", P::FP8, 21, {}, {{"proj.weight", 0.8f}}}, [](ZooCase& c) {
                 c.param("act_amax", 0.8);  // below max|x| (~1) so saturation is exercised too
                 auto x = c.input("x", {5, 8});
                 c.output("y", c.ops().linear(x, c.weight("proj.weight", {6, 8}), c.weight("proj.bias", {6})));
               }});
  e.push_back({"linear_dynamic", {"linear", P::FP32, 21, {{"x", {"seq", ""}}}}, [](ZooCase& c) {
                 c.alt_sizes("[{\"seq\": 1}, {\"seq\": 11}]");
                 auto x = c.input("x", {7, 8});
                 c.output("y", c.ops().linear(x, c.weight("proj.weight", {6, 8}), c.weight("proj.bias", {6})));
               }});
  e.push_back({"rms_norm", {"rms_norm"}, [](ZooCase& c) {
                 c.param("eps", 1e-6);
                 c.output("y", c.ops().rms_norm(c.input("x", {4, 16}), c.weight("norm.weight", {16}), 1e-6f));
               }});
  e.push_back({"rms_norm_opset17", {"rms_norm", P::FP32, 17}, [](ZooCase& c) {
                 c.param("eps", 1e-5);
                 c.output("y", c.ops().rms_norm(c.input("x", {4, 16}), c.weight("norm.weight", {16}), 1e-5f));
               }});
  e.push_back({"layer_norm", {"layer_norm"}, [](ZooCase& c) {
                 c.param("eps", 1e-5);
                 c.output("y", c.ops().layer_norm(c.input("x", {4, 16}), c.weight("ln.weight", {16}),
                                                  c.weight("ln.bias", {16}), 1e-5f));
               }});
  e.push_back({"rope", {"rope"}, [](ZooCase& c) {
                 auto x = c.input("x", {5, 3, 8});
                 c.output("y", c.ops().rope(x, c.input("cos", {5, 8}), c.input("sin", {5, 8})));
               }});
  auto attention = [](model::AttentionMask mask, int64_t nq, int64_t nk) {
    return [=](ZooCase& c) {
      c.param("scale", 0.35);
      c.param("mask", json_str(mask.kind == model::AttentionMask::Kind::Causal ? "causal" : "none"));
      c.param("past", static_cast<double>(mask.past));
      auto q = c.input("q", {nq, 4, 8});
      auto k = c.input("k", {nk, 2, 8});
      auto v = c.input("v", {nk, 2, 8});
      c.output("y", c.ops().attention(q, k, v, mask, 0.35f));
    };
  };
  e.push_back({"attention_gqa", {"attention"}, attention(model::AttentionMask::none(), 5, 7)});
  e.push_back({"attention_causal", {"attention"}, attention(model::AttentionMask::causal(2), 5, 7)});
  e.push_back({"attention_causal_dynamic",
               {"attention", P::FP32, 21, {{"q", {"q_len", "", ""}}, {"k", {"k_len", "", ""}}, {"v", {"k_len", "", ""}}}},
               [attention](ZooCase& c) {
                 c.alt_sizes("[{\"q_len\": 3, \"k_len\": 3}, {\"q_len\": 1, \"k_len\": 10}, {\"q_len\": 6, \"k_len\": 9}]");
                 attention(model::AttentionMask::causal(4), 5, 9)(c);
               }});
  auto unary = [](Value (model::Ops::*fn)(const Value&)) {
    return [fn](ZooCase& c) { c.output("y", (c.ops().*fn)(c.input("x", {4, 6}))); };
  };
  e.push_back({"silu", {"silu"}, unary(&model::Ops::silu)});
  e.push_back({"gelu_tanh", {"gelu_tanh"}, unary(&model::Ops::gelu_tanh)});
  e.push_back({"gelu_erf", {"gelu_erf"}, unary(&model::Ops::gelu_erf)});
  e.push_back({"gelu_tanh_opset17", {"gelu_tanh", P::FP32, 17}, unary(&model::Ops::gelu_tanh)});
  e.push_back({"gelu_erf_opset17", {"gelu_erf", P::FP32, 17}, unary(&model::Ops::gelu_erf)});
  e.push_back({"add_row", {"add"}, [](ZooCase& c) {
                 c.output("y", c.ops().add(c.input("a", {4, 6}), c.weight("bias", {6})));
               }});
  e.push_back({"mul", {"mul"}, [](ZooCase& c) { c.output("y", c.ops().mul(c.input("a", {4, 6}), c.input("b", {4, 6}))); }});
  e.push_back({"scale", {"scale"}, [](ZooCase& c) {
                 c.param("s", -1.25);
                 c.output("y", c.ops().scale(c.input("x", {4, 6}), -1.25f));
               }});
  e.push_back({"fourier_features", {"fourier_features", P::FP32, 21, {{"x", {"n", ""}}}}, [](ZooCase& c) {
                 std::vector<float> freqs;
                 std::string list = "[";
                 for (int k = 0; k < 10; ++k) {
                   freqs.push_back(static_cast<float>(std::pow(10.0, 2.0 * k / 9.0)));  // logspace(0, 2, 10)
                  std::ostringstream os;
                   os.precision(9);  // round-trips a float exactly
                   os << freqs.back();
                   list += (k ? ", " : "") + os.str();
                 }
                 c.param("freqs", list + "]");
                 c.alt_sizes("[{\"n\": 2}, {\"n\": 64}]");
                 c.output("y", c.ops().fourier_features(c.input("x", {5, 3}), freqs));
               }});
  auto embedding = [](ZooCase& c) {
    c.output("y", c.ops().embedding(c.weight("embed.weight", {10, 6}), c.index("ids", {4}, {3, 0, 9, 3})));
  };
  e.push_back({"embedding", {"embedding"}, embedding});
  e.push_back({"embedding_fp16", {"embedding", P::FP16}, embedding});
  e.push_back({"interp_rows", {"interp_rows"}, [](ZooCase& c) {
                 auto idx = c.index("idx", {3, 4}, {0, 1, 5, 6, 7, 7, 2, 3, 9, 8, 1, 0});
                 c.output("y", c.ops().interp_rows(c.weight("pos.weight", {10, 6}), idx, c.input("w", {3, 4})));
               }});
  e.push_back({"scatter_rows", {"scatter_rows"}, [](ZooCase& c) {
                 auto idx = c.index("idx", {3}, {4, 0, 2});
                 c.output("y", c.ops().scatter_rows(c.input("x", {6, 5}), idx, c.input("src", {3, 5})));
               }});
  e.push_back({"index_add_rows", {"index_add_rows"}, [](ZooCase& c) {
                 // Distinct rows: the ONNX form is Gather + Add + ScatterND "none" (TensorRT's parser has no
                 // ScatterND reduction), which OnnxOps refuses to trace with a repeated row.
                 auto idx = c.index("idx", {4}, {4, 1, 5, 0});
                 c.output("y", c.ops().index_add_rows(c.input("x", {6, 5}), idx, c.input("src", {4, 5})));
               }});
  e.push_back({"slice", {"slice"}, [](ZooCase& c) {
                 c.param("axis", 1.0);
                 c.param("begin", 2.0);
                 c.param("end", 5.0);
                 c.output("y", c.ops().slice(c.input("x", {4, 6}), 1, 2, 5));
               }});
  e.push_back({"slice_dynamic", {"slice", P::FP32, 21, {{"x", {"seq", ""}}}}, [](ZooCase& c) {
                 c.param("axis", 0.0);
                 c.param("begin", 2.0);
                 c.param("end", "null");  // to the end of the dynamic axis
                 c.alt_sizes("[{\"seq\": 3}, {\"seq\": 12}]");
                 c.output("y", c.ops().slice(c.input("x", {7, 4}), 0, 2, 7));
               }});
  e.push_back({"concat", {"concat"}, [](ZooCase& c) {
                 c.param("axis", 1.0);
                 c.output("y", c.ops().concat({c.input("a", {3, 2}), c.input("b", {3, 4}), c.input("c", {3, 1})}, 1));
               }});
  e.push_back({"reshape_transpose", {"reshape_transpose", P::FP32, 21, {{"x", {"seq", ""}}}}, [](ZooCase& c) {
                 c.alt_sizes("[{\"seq\": 2}, {\"seq\": 13}]");
                 auto& o = c.ops();
                 auto x = c.input("x", {7, 6});
                 auto r = o.reshape(x, {7, 2, 3});
                 auto t = o.transpose(r, {1, 0, 2});
                 c.output("y", o.reshape(t, {2, -1}));
               }});
  e.push_back({"expand_rows", {"expand_rows", P::FP32, 21, {{"y", {"seq", ""}}}}, [](ZooCase& c) {
                 c.alt_sizes("[{\"seq\": 2}, {\"seq\": 9}]");
                 auto x = c.input("x", {1, 4});
                 auto y = c.input("y", {5, 4});
                 c.output("out", c.ops().add(c.ops().expand_rows(x, 5), y));
               }});
  // The in-place cache (TensorScatter, opset 24, static capacity 32): a lane writing at row 0, one at
  // the last row, and three lanes of two tokens each at their own write index (rows are lane-major).
  e.push_back({"kv_decode", {"kv_decode", P::FP32, 24, {{"q", {"seq", "", ""}}, {"k", {"seq", "", ""}}, {"v", {"seq", "", ""}}}},
               [](ZooCase& c) {
                 c.param("scale", 0.35);
                 c.alt_sizes("[{\"seq\": 5, \"lanes\": 1, \"kv_write_index\": [0]},"
                             " {\"seq\": 1, \"lanes\": 1, \"kv_write_index\": [31]},"
                             " {\"seq\": 6, \"lanes\": 3, \"kv_write_index\": [3, 0, 30]}]");
                 auto& o = c.ops();
                 const int64_t pos = 3, n = 5;
                 o.kv_reserve(2, 32, 2, 8);
                 auto q = c.input("q", {n, 4, 8});
                 auto k = c.input("k", {n, 2, 8});
                 auto v = c.input("v", {n, 2, 8});
                 o.kv_write(1, pos, k, v);
                 auto [kk, vv] = o.kv_read(1, pos + n);
                 c.output("y", o.attention(q, kk, vv, model::AttentionMask::causal(pos), 0.35f));
               }});
  // The expert's pattern: each lane's cache prefix [0, kv_write_index) read in place, its own rows
  // written after it and attended together, non-causally (ragged prefixes across 3 lanes).
  e.push_back({"kv_prefix_append", {"kv_prefix_append", P::FP32, 24, {{"q", {"seq", "", ""}}, {"k", {"seq", "", ""}}, {"v", {"seq", "", ""}}}},
               [](ZooCase& c) {
                 c.param("scale", 0.35);
                 c.alt_sizes("[{\"seq\": 12, \"lanes\": 3, \"kv_write_index\": [1, 17, 28]}]");
                 auto& o = c.ops();
                 const int64_t pos = 3, n = 5;
                 o.kv_reserve(2, 32, 2, 8);
                 auto q = c.input("q", {n, 4, 8});
                 auto k = c.input("k", {n, 2, 8});
                 auto v = c.input("v", {n, 2, 8});
                 auto [pk, pv] = o.kv_read(1, pos);
                 c.output("y", o.attention(q, o.concat({pk, k}, 0), o.concat({pv, v}, 0), model::AttentionMask::none(), 0.35f));
               }});
  return e;
}

}  // namespace

std::vector<std::string> write_op_zoo(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  require(!ec, ErrorCode::InvalidInput, "write_op_zoo: cannot create '" + dir + "': " + ec.message());
  std::vector<std::string> names;
  std::string manifest = "[\n";
  for (auto& entry : zoo()) {
    ZooCase c(dir, entry.name, entry.cfg);
    entry.build(c);
    manifest += (names.empty() ? "  " : ",\n  ") + c.finish();
    names.push_back(entry.name);
  }
  manifest += "\n]\n";
  std::ofstream(dir + "/manifest.json") << manifest;
  return names;
}

}  // namespace alp::exporter
