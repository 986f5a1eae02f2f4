#include "backends/cuda/token_select.hpp"

#include <algorithm>
#include <string>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/cuda_ops.hpp"
#include "core/error.hpp"

namespace alp::cuda {

DeviceTokenSelector::~DeviceTokenSelector() {
  try {
    ops_.synchronize();  // binds the device on this thread, and the kernel may still read the buffers
  } catch (...) {
    // A failed sync while tearing down: the buffers are freed anyway (their owners drop errors).
  }
}

void DeviceTokenSelector::reserve(int lanes, int64_t vocab) {
  if (lanes <= lanes_cap_ && vocab <= vocab_cap_) return;
  if (ops_.capturing()) fail(ErrorCode::Internal, "cuda token selection: buffers must grow during graph capture");
  ops_.synchronize();  // the old buffers may still be in use
  lanes_cap_ = std::max(lanes_cap_, lanes);
  vocab_cap_ = std::max(vocab_cap_, vocab);
  const size_t n = static_cast<size_t>(lanes_cap_);
  scratch_ = DeviceBuffer(n * static_cast<size_t>(vocab_cap_) * sizeof(double), "token selection scratch");
  in_ = DeviceBuffer(n * sizeof(SelectLaneInput), "token selection input");
  out_ = DeviceBuffer(n * sizeof(model::LaneSelection), "token selection output");
  host_in_ = PinnedBuffer(n * sizeof(SelectLaneInput), "token selection input staging");
  host_out_ = PinnedBuffer(n * sizeof(model::LaneSelection), "token selection output staging");
}

std::vector<int32_t> DeviceTokenSelector::select(const model::Value& logits, std::span<model::TokenSampler* const> samplers,
                                                 const model::SamplingParams& p) {
  const Shape& shape = logits->shape;
  const size_t rows = samplers.size();
  const bool shared_row = shape.size() == 1;
  if (rows == 0 || !(shared_row || (shape.size() == 2 && shape[0] == static_cast<int64_t>(rows))))
    fail(ErrorCode::Internal, "cuda token selection: logits " + shape_str(shape) + " for " + std::to_string(rows) + " samplers");
  const int64_t vocab = shape.back();
  if (vocab <= 0) fail(ErrorCode::InvalidInput, "sampling: empty logits");
  if (vocab > INT32_MAX) fail(ErrorCode::Internal, "cuda token selection: " + std::to_string(vocab) + " ids do not fit int32 token ids");
  // The host's draws, in row order, exactly where select_tokens would make them (after the
  // parameter check, one per sampled row).
  const std::vector<double> u = model::draw_uniforms(samplers, p);
  std::vector<int32_t> ids(rows, -1);
  std::vector<size_t> lane_row;
  for (size_t i = 0; i < rows; ++i)
    if (samplers[i]) lane_row.push_back(i);
  if (lane_row.empty()) return ids;
  const int lanes = static_cast<int>(lane_row.size());
  ops_.bind_device();
  reserve(lanes, vocab);
  SelectLaneInput* hin = host_in_.as<SelectLaneInput>();
  for (int k = 0; k < lanes; ++k) hin[k] = {shared_row ? 0 : static_cast<int64_t>(lane_row[static_cast<size_t>(k)]), u[lane_row[static_cast<size_t>(k)]]};
  const cudaStream_t s = ops_.stream();
  ALP_CUDA(cudaMemcpyAsync(in_.get(), hin, static_cast<size_t>(lanes) * sizeof(SelectLaneInput), cudaMemcpyHostToDevice, s));
  launch_select_tokens(ops_.device_data(logits), shared_row ? 0 : vocab, vocab, in_.as<SelectLaneInput>(), lanes, p,
                       scratch_.as<double>(), out_.as<model::LaneSelection>(), s);
  ALP_CUDA(cudaMemcpyAsync(host_out_.get(), out_.get(), static_cast<size_t>(lanes) * sizeof(model::LaneSelection),
                           cudaMemcpyDeviceToHost, s));
  ops_.synchronize();  // the one host sync of a decode step: the ids
  const model::LaneSelection* hout = host_out_.as<model::LaneSelection>();
  for (int k = 0; k < lanes; ++k) {
    model::raise_selection_failure(hout[k]);  // in row order, as select_tokens fails at the first bad row
    ids[lane_row[static_cast<size_t>(k)]] = hout[k].id;
  }
  return ids;
}

}  // namespace alp::cuda
