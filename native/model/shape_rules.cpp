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

Shape reshape_shape(const Shape& from, Shape to, const char* executor) {
  auto bad = [&](const std::string& what) { fail(ErrorCode::Internal, std::string(executor) + " reshape: " + what); };
  const int64_t n = shape_numel(from);
  int64_t known = 1, unknown = -1;
  for (size_t i = 0; i < to.size(); ++i) {
    if (to[i] == -1) {
      if (unknown >= 0) bad("two -1 dims in " + shape_str(to));
      unknown = static_cast<int64_t>(i);
    } else {
      known *= to[i];
    }
  }
  if (unknown >= 0 && known > 0) to[static_cast<size_t>(unknown)] = n / known;
  if (shape_numel(to) != n) bad(shape_str(from) + " -> " + shape_str(to));
  return to;
}

}  // namespace alp::model
