#pragma once
// The device token-selection kernel (token_select.cu; nvcc, C++17: this header includes nothing
// C++20). DeviceTokenSelector (token_select.hpp) drives it.
#include <cuda_runtime.h>

#include <cstdint>

#include "model/sampling_rule.hpp"

namespace alp::cuda {

// One lane of a launch: its logits row and its uniform.
struct SelectLaneInput {
  int64_t row = 0;
  double u = 0;
};

// Enqueues the selection of `lanes` lanes: lane i reads `vocab` logits at logits + in[i].row *
// row_stride and writes out[i]; `scratch` holds lanes * vocab doubles. All pointers are device
// memory; nothing is allocated, nothing synchronises (graph-capturable).
void launch_select_tokens(const float* logits, int64_t row_stride, int64_t vocab, const SelectLaneInput* in, int lanes,
                          const model::SamplingParams& p, double* scratch, model::LaneSelection* out, cudaStream_t s);

}  // namespace alp::cuda
