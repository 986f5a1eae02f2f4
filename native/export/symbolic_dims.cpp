#include "export/symbolic_dims.hpp"

#include "core/error.hpp"

namespace alp::exporter {

SymPtr SymbolTable::intern(const std::string& label, const std::string& source, int axis, int64_t trace) {
  if (auto it = by_label_.find(label); it != by_label_.end()) {
    require(it->second->trace == trace, ErrorCode::InvalidInput,
            "dynamic dim '" + label + "' traced with size " + std::to_string(trace) + " at '" + source +
                "' but with size " + std::to_string(it->second->trace) + " at '" + it->second->source + "'");
    return it->second;
  }
  auto s = std::make_shared<const SymDim>(SymDim{label, source, axis, trace});
  by_label_.emplace(label, s);
  return s;
}

SymPtr SymbolTable::resolve(int64_t n, std::string_view what) const {
  if (n < 2) return nullptr;
  SymPtr found;
  for (const auto& [label, s] : by_label_) {
    if (s->trace != n) continue;
    if (found)
      fail(ErrorCode::InvalidInput,
            std::string(what) + ": size " + std::to_string(n) + " is the trace size of both '" + found->label +
                "' and '" + label + "'; trace the dynamic dims with distinct sizes");
    found = s;
  }
  return found;
}

std::string SymbolTable::size_tensor(GraphBuilder& g, const SymPtr& s) {
  if (auto it = size_tensors_.find(s.get()); it != size_tensors_.end()) return it->second;
  const std::string name = g.op("Shape", {s->source},
                                {onnx::Attribute::of_int("start", s->axis), onnx::Attribute::of_int("end", s->axis + 1)},
                                "size_" + s->label);
  size_tensors_.emplace(s.get(), name);
  return name;
}

std::string shape_tensor(GraphBuilder& g, SymbolTable& syms, const std::vector<DimRef>& dims) {
  bool any_sym = false;
  std::vector<int64_t> fixed;
  for (const auto& d : dims) {
    any_sym = any_sym || d.sym;
    fixed.push_back(d.sym ? -1 : d.size);
  }
  if (!any_sym) return g.const_i64_1d(fixed);
  std::vector<std::string> pieces;
  for (const auto& d : dims) pieces.push_back(d.sym ? syms.size_tensor(g, d.sym) : g.const_i64_1d({d.size}));
  return g.op("Concat", pieces, {onnx::Attribute::of_int("axis", 0)}, "shape");
}

}  // namespace alp::exporter
