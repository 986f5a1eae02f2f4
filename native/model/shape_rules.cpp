#include "model/shape_rules.hpp"

#include <string>

#include "core/error.hpp"

namespace alp::model {

Shape concat_shape(const std::vector<Value>& xs, int axis, const char* executor) {
  auto bad = [&](const std::string& what) { fail(ErrorCode::Internal, std::string(executor) + " concat: " + what); };
  if (xs.empty()) bad("no inputs");
  Shape os = xs[0]->shape;
  if (axis < 0 || axis >= static_cast<int>(os.size())) bad("axis " + std::to_string(axis) + " of " + shape_str(os));
  Shape ref = os;
  ref[static_cast<size_t>(axis)] = 0;
  os[static_cast<size_t>(axis)] = 0;
  for (const Value& v : xs) {
    Shape t = v->shape;
    if (t.size() != os.size()) bad("rank mismatch " + shape_str(t));
    os[static_cast<size_t>(axis)] += t[static_cast<size_t>(axis)];
    t[static_cast<size_t>(axis)] = 0;
    if (t != ref) bad("shapes " + shape_str(xs[0]->shape) + " and " + shape_str(v->shape));
  }
  return os;
}

}  // namespace alp::model
