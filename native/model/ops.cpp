#include "model/ops.hpp"

#include "core/checkpoint.hpp"
#include "core/error.hpp"

namespace alp::model {

WeightSource checkpoint_weights(std::shared_ptr<const Checkpoint> checkpoint) {
  require(checkpoint != nullptr, ErrorCode::InvalidInput, "checkpoint_weights: null checkpoint");
  return [checkpoint](std::string_view name) { return checkpoint->tensor(name); };
}

}  // namespace alp::model
