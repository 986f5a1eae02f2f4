#pragma once
// Output-shape rules of Ops that every executor shares, so a shape mistake in model code fails the
// same way (Error(Internal), naming the op and the shapes) on the CPU, the GPU and in the exporter.
#include <vector>

#include "model/ops.hpp"

namespace alp::model {

// Shape of concat(xs, axis): all ranks equal, all dims but `axis` equal; axis in [0, rank).
Shape concat_shape(const std::vector<Value>& xs, int axis, const char* executor);

// Shape of reshape(x, shape): at most one -1, resolved from x's element count, which must be kept.
Shape reshape_shape(const Shape& from, Shape to, const char* executor);

}  // namespace alp::model
