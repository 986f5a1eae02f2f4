#pragma once
// Creates the Executor a planner asked for. An unavailable backend is an error, never a fallback.
#include <memory>

#include "core/checkpoint.hpp"
#include "model/config.hpp"
#include "model/executor.hpp"
#include "pipeline/planner.hpp"

namespace alp::pipeline {
std::unique_ptr<model::Executor> make_executor(const LoadOptions& options, std::shared_ptr<const Checkpoint> checkpoint,
                                        const model::ModelConfig& cfg);
}
