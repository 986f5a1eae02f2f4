#pragma once
// Dynamic axes for a traced export. The Ops API passes sizes as plain integers, so the exporter
// traces with example sizes and recognises a dynamic size by its trace value: every symbolic dim
// (a named input axis, the KV length, or a sum/product derived from them) remembers its trace size
// and a (value, axis) where its run-time size can be read with a Shape node. Trace sizes must
// therefore be >= 2 and differ from every fixed size in the model (see README.md).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "export/onnx_graph.hpp"

namespace alp::exporter {

struct SymDim {
  std::string label;   // dim_param text: "seq", "lanes", "a+b"
  std::string source;  // an ONNX value whose axis `axis` has this size at run time
  int axis = 0;
  int64_t trace = 0;
};
using SymPtr = std::shared_ptr<const SymDim>;

class SymbolTable {
 public:
  // The symbol called `label`, created with this source if new; an existing one must agree on trace.
  SymPtr intern(const std::string& label, const std::string& source, int axis, int64_t trace);
  // The symbol whose trace size is `n` (null if none or n < 2); throws InvalidInput naming `what`
  // when two differently named symbols share that trace size.
  SymPtr resolve(int64_t n, std::string_view what) const;
  // Run-time size of `s` as int64[1], built once per symbol.
  std::string size_tensor(GraphBuilder& g, const SymPtr& s);

 private:
  std::map<std::string, SymPtr> by_label_;
  std::map<const SymDim*, std::string> size_tensors_;
};

// One axis of a traced value: its trace size and, when dynamic, its symbol.
struct DimRef {
  int64_t size = 0;
  SymPtr sym;
};

// int64[rank] shape tensor: a constant when every axis is fixed, else a Concat of per-axis pieces.
// An axis with `size == -1` and no symbol is written as -1 (Reshape infers it).
std::string shape_tensor(GraphBuilder& g, SymbolTable& syms, const std::vector<DimRef>& dims);

}  // namespace alp::exporter
