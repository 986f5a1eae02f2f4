// One conformance table for every Ops backend (like llama.cpp's test-backend-ops): each row is one op
// on one set of shapes (ragged ones and the real model's dimensions); every backend runs every row at
// each of its precisions and is compared with the CPU executor in fp32, within that precision's
// tolerance. Adding an op is one row in table(); adding a backend is one entry in backends().
//   ops_conformance_<backend>   runs the table on that backend (skips, with the reason, where it cannot run)
//   ops_conformance_onnx_export records every row as an ONNX graph plus inputs and the fp32 reference under
//                               $ALPAMAYO_CONFORMANCE_ONNX_DIR, for test/fixtures/onnx/check_conformance.py
//                               (onnxruntime) to run; skips when the variable is unset.
// Each run prints, per precision, the worst max|got - want| / (atol + rtol * max|want|) (<= 1 passes)
// and then "conformance <backend>: R rows x P precisions = N checks".
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/cpu_ops.hpp"
#include "core/precision.hpp"
#include "export/npy_writer.hpp"
#include "export/onnx_ops.hpp"
#include "model/config.hpp"
#include "model/expert.hpp"
#include "model/ops.hpp"
#include "tests/check.hpp"
#if ALPAMAYO_HAVE_CUDA
#include "backends/cuda/cuda_ops.hpp"
#include "tests/cuda_test_util.hpp"
#endif

namespace alp::test {
namespace {

using model::Ops;
using model::Value;

// ---- the table -----------------------------------------------------------------------------------

enum class Kind { Input, Weight, Index };
struct Arg {
  std::string name;
  Kind kind;
  Shape shape;
  std::vector<int64_t> index;  // Kind::Index: the values
};
struct Row {
  std::string op, shapes;
  std::vector<Arg> args;
  std::function<Value(Ops&, const std::vector<Value>&)> run;
  bool onnx = true;  // the exporter's KV cache is graph I/O, not a buffer: kv rows are executor-only
  std::string id() const { return op + " " + shapes; }
};

Arg in(std::string n, Shape s) { return {std::move(n), Kind::Input, std::move(s), {}}; }
Arg wt(std::string n, Shape s) { return {std::move(n), Kind::Weight, std::move(s), {}}; }
Arg ix(std::string n, std::vector<int64_t> v) {
  const int64_t len = static_cast<int64_t>(v.size());
  return {std::move(n), Kind::Index, {len}, std::move(v)};
}
Arg ix2(std::string n, Shape s, std::vector<int64_t> v) { return {std::move(n), Kind::Index, std::move(s), std::move(v)}; }

using A = const std::vector<Value>&;

const std::vector<Row>& table() {
  static const std::vector<Row> rows = [] {
    using M = model::AttentionMask;
    std::vector<Row> r;
    // Real dimensions (Alpamayo 1: Qwen3-VL-8B backbone, its vision tower, the action expert).
    const int64_t hid = 4096, kv_dim = 8 * 128, vis = 1152, vis_inter = 4304;
    r.push_back({"linear", "ragged [7, 13] x [5, 13] + b", {in("x", {7, 13}), wt("w", {5, 13}), wt("b", {5})},
                 [](Ops& o, A a) { return o.linear(a[0], a[1], a[2]); }});
    r.push_back({"linear", "3-D [2, 3, 9] x [4, 9]", {in("x", {2, 3, 9}), wt("w", {4, 9})},
                 [](Ops& o, A a) { return o.linear(a[0], a[1], nullptr); }});
    r.push_back({"linear", "activation weight [6, 24] x [10, 24]", {in("x", {6, 24}), in("w", {10, 24})},
                 [](Ops& o, A a) { return o.linear(a[0], a[1], nullptr); }});
    r.push_back({"linear", "text k_proj [3, 4096] x [1024, 4096]", {in("x", {3, hid}), wt("w", {kv_dim, hid})},
                 [](Ops& o, A a) { return o.linear(a[0], a[1], nullptr); }});
    r.push_back({"linear", "vision fc1 [5, 1152] x [4304, 1152] + b", {in("x", {5, vis}), wt("w", {vis_inter, vis}), wt("b", {vis_inter})},
                 [](Ops& o, A a) { return o.linear(a[0], a[1], a[2]); }});
    r.push_back({"rms_norm", "ragged [7, 13]", {in("x", {7, 13}), wt("g", {13})},
                 [](Ops& o, A a) { return o.rms_norm(a[0], a[1], 1e-6f); }});
    r.push_back({"rms_norm", "text [3, 4096]", {in("x", {3, hid}), wt("g", {hid})},
                 [](Ops& o, A a) { return o.rms_norm(a[0], a[1], 1e-6f); }});
    r.push_back({"layer_norm", "ragged [5, 11]", {in("x", {5, 11}), wt("g", {11}), wt("b", {11})},
                 [](Ops& o, A a) { return o.layer_norm(a[0], a[1], a[2], 1e-5f); }});
    r.push_back({"layer_norm", "vision [4, 1152]", {in("x", {4, vis}), wt("g", {vis}), wt("b", {vis})},
                 [](Ops& o, A a) { return o.layer_norm(a[0], a[1], a[2], 1e-6f); }});
    r.push_back({"rope", "ragged [3, 5, 6]", {in("x", {3, 5, 6}), in("cos", {3, 6}), in("sin", {3, 6})},
                 [](Ops& o, A a) { return o.rope(a[0], a[1], a[2]); }});
    r.push_back({"rope", "text [4, 32, 128]", {in("x", {4, 32, 128}), in("cos", {4, 128}), in("sin", {4, 128})},
                 [](Ops& o, A a) { return o.rope(a[0], a[1], a[2]); }});
    r.push_back({"attention", "GQA unmasked q[5, 6, 8] kv[7, 2, 8]", {in("q", {5, 6, 8}), in("k", {7, 2, 8}), in("v", {7, 2, 8})},
                 [](Ops& o, A a) { return o.attention(a[0], a[1], a[2], M::none(), 0.35f); }});
    r.push_back({"attention", "GQA causal past 2 q[5, 6, 8] kv[7, 2, 8]", {in("q", {5, 6, 8}), in("k", {7, 2, 8}), in("v", {7, 2, 8})},
                 [](Ops& o, A a) { return o.attention(a[0], a[1], a[2], M::causal(2), 0.35f); }});
    r.push_back({"attention", "decode q[1, 4, 16] kv[9, 2, 16] past 8", {in("q", {1, 4, 16}), in("k", {9, 2, 16}), in("v", {9, 2, 16})},
                 [](Ops& o, A a) { return o.attention(a[0], a[1], a[2], M::causal(8), 0.25f); }});
    r.push_back({"attention", "text prefill q[9, 32, 128] kv[9, 8, 128]", {in("q", {9, 32, 128}), in("k", {9, 8, 128}), in("v", {9, 8, 128})},
                 [](Ops& o, A a) { return o.attention(a[0], a[1], a[2], M::causal(0), 0.08838834764831845f); }});
    r.push_back({"attention", "vision q/kv[10, 16, 72]", {in("q", {10, 16, 72}), in("k", {10, 16, 72}), in("v", {10, 16, 72})},
                 [](Ops& o, A a) { return o.attention(a[0], a[1], a[2], M::none(), 0.11785113019775792f); }});
    r.push_back({"attention_blocks", "vision 3 images q/kv[3 x 10, 16, 72]", {in("q", {30, 16, 72}), in("k", {30, 16, 72}), in("v", {30, 16, 72})},
                 [](Ops& o, A a) { return o.attention_blocks(a[0], a[1], a[2], 3, 0.11785113019775792f); }});
    r.push_back({"silu", "ragged [7, 13]", {in("x", {7, 13})}, [](Ops& o, A a) { return o.silu(a[0]); }});
    r.push_back({"gelu_tanh", "ragged [7, 13]", {in("x", {7, 13})}, [](Ops& o, A a) { return o.gelu_tanh(a[0]); }});
    r.push_back({"gelu_tanh", "vision mlp [3, 4304]", {in("x", {3, vis_inter})}, [](Ops& o, A a) { return o.gelu_tanh(a[0]); }});
    r.push_back({"swiglu", "ragged [7, 2 x 13]", {in("x", {7, 26})}, [](Ops& o, A a) { return o.swiglu(a[0]); }});
    r.push_back({"swiglu", "text mlp [2, 2 x 12288]", {in("x", {2, 2 * 12288})}, [](Ops& o, A a) { return o.swiglu(a[0]); }});
    r.push_back({"gelu_erf", "ragged [7, 13]", {in("x", {7, 13})}, [](Ops& o, A a) { return o.gelu_erf(a[0]); }});
    r.push_back({"add", "same shape [7, 13]", {in("a", {7, 13}), in("b", {7, 13})}, [](Ops& o, A a) { return o.add(a[0], a[1]); }});
    r.push_back({"add", "row [7, 13] + [13]", {in("a", {7, 13}), wt("b", {13})}, [](Ops& o, A a) { return o.add(a[0], a[1]); }});
    r.push_back({"mul", "row [5, 11] * [1, 11]", {in("a", {5, 11}), in("b", {1, 11})}, [](Ops& o, A a) { return o.mul(a[0], a[1]); }});
    r.push_back({"scale", "ragged [7, 13]", {in("x", {7, 13})}, [](Ops& o, A a) { return o.scale(a[0], -1.75f); }});
    r.push_back({"fourier_features", "expert [64, 2] x 10 real freqs", {in("x", {64, 2})}, [](Ops& o, A a) {
                   const std::vector<float> f = model::fourier_freqs(model::ActionInProjConfig{});
                   return o.fourier_features(a[0], f);
                 }});
    r.push_back({"embedding", "table [11, 6] ids [5]", {wt("table", {11, 6}), ix("ids", {3, 0, 10, 3, 7})},
                 [](Ops& o, A a) { return o.embedding(a[0], a[1]); }});
    r.push_back({"interp_rows", "table [9, 7] taps [5, 4]",
                 {wt("table", {9, 7}), ix2("idx", {5, 4}, {0, 1, 2, 3, 8, 7, 6, 5, 4, 4, 4, 4, 1, 3, 5, 7, 2, 0, 8, 6}), in("w", {5, 4})},
                 [](Ops& o, A a) { return o.interp_rows(a[0], a[1], a[2]); }});
    r.push_back({"scatter_rows", "x [6, 5] idx [3]", {in("x", {6, 5}), ix("idx", {4, 0, 2}), in("src", {3, 5})},
                 [](Ops& o, A a) { return o.scatter_rows(a[0], a[1], a[2]); }});
    r.push_back({"index_add_rows", "x [6, 5] idx [3]", {in("x", {6, 5}), ix("idx", {4, 0, 2}), in("src", {3, 5})},
                 [](Ops& o, A a) { return o.index_add_rows(a[0], a[1], a[2]); }});
    r.push_back({"slice", "[4, 6, 5] axis 1 [2, 5)", {in("x", {4, 6, 5})}, [](Ops& o, A a) { return o.slice(a[0], 1, 2, 5); }});
    r.push_back({"slice", "[4, 6, 5] axis -1 [0, 3)", {in("x", {4, 6, 5})}, [](Ops& o, A a) { return o.slice(a[0], -1, 0, 3); }});
    r.push_back({"slice", "[7, 3] axis 0 [6, 7)", {in("x", {7, 3})}, [](Ops& o, A a) { return o.slice(a[0], 0, 6, 7); }});
    r.push_back({"concat", "axis 0 [2, 5] [3, 5]", {in("a", {2, 5}), in("b", {3, 5})}, [](Ops& o, A a) { return o.concat({a[0], a[1]}, 0); }});
    r.push_back({"concat", "axis -1 [4, 3] [4, 2] [4, 1]", {in("a", {4, 3}), in("b", {4, 2}), in("c", {4, 1})},
                 [](Ops& o, A a) { return o.concat({a[0], a[1], a[2]}, -1); }});
    r.push_back({"reshape", "[4, 6] -> [3, -1]", {in("x", {4, 6})}, [](Ops& o, A a) { return o.reshape(a[0], {3, -1}); }});
    r.push_back({"transpose", "[2, 3, 4] perm (2, 0, 1)", {in("x", {2, 3, 4})}, [](Ops& o, A a) { return o.transpose(a[0], {2, 0, 1}); }});
    r.push_back({"transpose", "[5, 7] perm (1, 0)", {in("x", {5, 7})}, [](Ops& o, A a) { return o.transpose(a[0], {1, 0}); }});
    r.push_back({"expand_rows", "[1, 7] -> 5 rows", {in("x", {1, 7})}, [](Ops& o, A a) { return o.expand_rows(a[0], 5); }});
    Row kv{"kv_write+kv_read", "cache 2 x 12 x [2, 4], write 4 at 3, read 9", {in("k", {4, 2, 4}), in("v", {4, 2, 4})},
           [](Ops& o, A a) {
             o.kv_reserve(2, 12, 2, 4);
             o.kv_write(1, 3, a[0], a[1]);
             auto [k, v] = o.kv_read(1, 9);
             return o.concat({k, v}, 0);
           }};
    kv.onnx = false;
    r.push_back(kv);
    return r;
  }();
  return rows;
}

// ---- tolerances: max|got - want| <= atol + rtol * max|want| against CpuOps fp32 ----------------

struct Tolerance {
  double atol, rtol;
};
Tolerance tolerance(Precision p) {
  switch (p) {
    case Precision::FP32: return {1e-5, 1e-5};  // summation order only
    // About 3x the worst the CPU executor and onnxruntime show (0.08, 0.07, 0.27 of these bounds), so
    // cuBLASLt's activation rounding on the GPU still fits and a wrong rounding rule does not.
    case Precision::FP16: return {1e-4, 1e-3};  // weights (and on cuBLASLt activations) rounded to 11 bits
    case Precision::BF16: return {1e-3, 8e-3};  // ... to 8 bits
    case Precision::FP8: return {1e-2, 8e-2};   // e4m3 weights and activations: 4 bits, per-tensor scale
  }
  return {0, 0};
}

// ---- deterministic data ---------------------------------------------------------------------------

std::vector<float> data_for(const Row& row, const Arg& a) {
  uint64_t s = std::hash<std::string>{}(row.id() + "/" + a.name) | 1;
  std::vector<float> v(static_cast<size_t>(shape_numel(a.shape)));
  for (float& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<float>(static_cast<uint32_t>(s >> 33) >> 7) / 8388608.0f - 1.0f;  // [-1, 1), 24 bits
  }
  return v;
}

model::WeightSource weights_of(const Row& row) {
  auto w = std::make_shared<std::map<std::string, Tensor, std::less<>>>();
  for (const Arg& a : row.args)
    if (a.kind == Kind::Weight) w->emplace(a.name, Tensor::from_f32(a.shape, data_for(row, a)));
  return [w](std::string_view n) {
    auto it = w->find(n);
    if (it == w->end()) fail(ErrorCode::InvalidCheckpoint, "missing tensor " + std::string(n));
    return it->second;
  };
}

std::vector<Value> args_on(Ops& ops, const Row& row) {
  std::vector<Value> out;
  for (const Arg& a : row.args) {
    if (a.kind == Kind::Weight) out.push_back(ops.weight(a.name, a.shape));
    else if (a.kind == Kind::Index) out.push_back(ops.input_index(a.name, a.shape, a.index));
    else out.push_back(ops.input(a.name, a.shape, data_for(row, a)));
  }
  return out;
}

// The reference: every row once on the CPU executor in fp32.
const std::vector<float>& reference(const Row& row) {
  static std::map<std::string, std::vector<float>> cache;
  auto it = cache.find(row.id());
  if (it != cache.end()) return it->second;
  cpu::CpuOps ops(weights_of(row), cpu::CpuOptions{Precision::FP32, 0});
  return cache[row.id()] = ops.read("y", row.run(ops, args_on(ops, row)));
}

// ---- the backends: one entry each ----------------------------------------------------------------

struct Backend {
  std::string name;
  std::vector<Precision> precisions;
  std::function<std::string()> unavailable;  // non-empty: why the backend cannot run here
  std::function<std::unique_ptr<Ops>(model::WeightSource, Precision)> make;
};

const std::vector<Backend>& backends() {
  static const std::vector<Backend> list = [] {
    std::vector<Backend> b;
    // The CPU executor in fp32 is the reference; its reduced precisions are checked against it.
    b.push_back({"cpu", {Precision::BF16, Precision::FP16, Precision::FP8}, [] { return std::string(); },
                 [](model::WeightSource w, Precision p) { return std::make_unique<cpu::CpuOps>(std::move(w), cpu::CpuOptions{p, 0}); }});
#if ALPAMAYO_HAVE_CUDA
    b.push_back({"cuda", {Precision::FP32, Precision::BF16, Precision::FP16, Precision::FP8}, [] { return cuda_skip_reason(); },
                 [](model::WeightSource w, Precision p) {
                   cuda::CudaOptions o;
                   o.precision = p;
                   return std::make_unique<cuda::CudaOps>(std::move(w), o);
                 }});
#endif
    return b;
  }();
  return list;
}

struct Result {
  int checks = 0;
  double worst = 0;  // within the current precision
  std::string worst_at;
};

void compare(const std::string& where, const std::vector<float>& got, const std::vector<float>& want, Tolerance t, Result& res) {
  ++res.checks;
  if (got.size() != want.size()) {
    record_failure(__FILE__, __LINE__, where + ": " + std::to_string(got.size()) + " values, want " + std::to_string(want.size()));
    return;
  }
  double err = 0, mag = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) err = INFINITY;
    err = std::max(err, static_cast<double>(std::fabs(got[i] - want[i])));
    mag = std::max(mag, static_cast<double>(std::fabs(want[i])));
  }
  const double ratio = err / (t.atol + t.rtol * mag);
  if (ratio > res.worst) res.worst = ratio, res.worst_at = where;
  if (!(ratio <= 1.0))
    record_failure(__FILE__, __LINE__, where + ": max |err| " + std::to_string(err) + " > " + std::to_string(t.atol) + " + " +
                                           std::to_string(t.rtol) + " * " + std::to_string(mag));
}

void run_backend(const std::string& name) {
  const auto& list = backends();
  auto b = std::find_if(list.begin(), list.end(), [&](const Backend& x) { return x.name == name; });
  if (b == list.end()) {
    SKIP("backend " + name + " is not compiled into this binary");
  }
  if (const std::string why = b->unavailable(); !why.empty()) SKIP(why);
  int checks = 0;
  for (Precision p : b->precisions) {
    Result res;
    for (const Row& row : table()) {
      const std::string where = name + " " + std::string(precision_name(p)) + " " + row.id();
      try {
        std::unique_ptr<Ops> ops = b->make(weights_of(row), p);
        compare(where, ops->read("y", row.run(*ops, args_on(*ops, row))), reference(row), tolerance(p), res);
      } catch (const std::exception& e) {
        record_failure(__FILE__, __LINE__, where + ": " + e.what());
      }
    }
    checks += res.checks;
    std::cout << "    " << name << " " << precision_name(p) << ": worst " << res.worst << " of the bound, at " << res.worst_at << "\n";
  }
  std::cout << "    conformance " << name << ": " << table().size() << " rows x " << b->precisions.size()
            << " precisions = " << checks << " checks\n";
}

}  // namespace
}  // namespace alp::test

TEST(ops_conformance_cpu) { alp::test::run_backend("cpu"); }
TEST(ops_conformance_cuda) { alp::test::run_backend("cuda"); }

// Every row that the exporter can express, at every export precision, as <dir>/<n>.onnx with its
// inputs (<n>.<input>.npy) and the CpuOps fp32 reference (<n>.want.npy); manifest.json lists them
// with the tolerance. test/fixtures/onnx/check_conformance.py runs them with onnxruntime.
TEST(ops_conformance_onnx_export) {
  using namespace alp;
  using namespace alp::test;
  const char* dir = std::getenv("ALPAMAYO_CONFORMANCE_ONNX_DIR");
  if (!dir || !*dir) SKIP("set ALPAMAYO_CONFORMANCE_ONNX_DIR to record the table for onnxruntime");
  std::filesystem::create_directories(dir);
  std::ofstream manifest(std::filesystem::path(dir) / "manifest.json");
  manifest << "[\n";
  int n = 0;
  for (Precision p : {Precision::FP32, Precision::FP16, Precision::BF16, Precision::FP8})
    for (const Row& row : table()) {
      if (!row.onnx) continue;
      const std::string id = std::string("c").append(std::to_string(n));  // (not "c" + ...: GCC 12 -Wrestrict false positive)
      exporter::OnnxExportOptions o;
      o.path = std::string(dir) + "/" + id + ".onnx";
      o.graph_name = id;
      o.precision = p;
      // fp8: the calibrated scale of a linear's input is its traced amax, the CPU executor's dynamic rule.
      float amax = 0;
      for (const Arg& a : row.args)
        if (a.kind == Kind::Input)
          for (float x : data_for(row, a)) amax = std::max(amax, std::fabs(x));
      for (const Arg& a : row.args)
        if (a.kind == Kind::Weight) o.activation_amax[a.name] = amax;
      try {
        exporter::OnnxOps ops(weights_of(row), o);
        ops.read("y", row.run(ops, args_on(ops, row)));
        ops.save();
        std::string inputs;
        for (const auto& [name, t] : ops.sample_inputs()) {
          exporter::write_npy(std::string(dir) + "/" + id + "." + name + ".npy", t);
          inputs += std::string(inputs.empty() ? "" : ", ") + "\"" + name + "\"";
        }
        const std::vector<float>& want = reference(row);
        Shape shape{static_cast<int64_t>(want.size())};
        exporter::write_npy(std::string(dir) + "/" + id + ".want.npy", Tensor::from_f32(shape, want));
        const Tolerance t = tolerance(p);
        manifest << (n ? ",\n" : "") << "  {\"id\": \"" << id << "\", \"row\": \"" << row.id() << "\", \"precision\": \""
                 << precision_name(p) << "\", \"atol\": " << t.atol << ", \"rtol\": " << t.rtol << ", \"inputs\": [" << inputs << "]}";
        ++n;
      } catch (const std::exception& e) {
        record_failure(__FILE__, __LINE__, std::string(precision_name(p)) + " " + row.id() + ": " + e.what());
      }
    }
  manifest << "\n]\n";
  std::cout << "    conformance onnx: " << n << " graphs recorded in " << dir << "\n";
}
