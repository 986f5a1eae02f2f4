#pragma once
// The single list of every weight the network reads, with its shape. make-checkpoint writes exactly
// these; a test checks that a full forward asks Ops::weight() for exactly this set.
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "model/config.hpp"

namespace alp::model {

struct ParamSpec {
  std::string name;
  Shape shape;
};

std::vector<ParamSpec> parameter_specs(const ModelConfig& cfg);
int64_t parameter_count(const ModelConfig& cfg);

}  // namespace alp::model
