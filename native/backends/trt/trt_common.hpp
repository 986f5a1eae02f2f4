#pragma once
// Ownership and small conversions shared by the TensorRT loader, executor and builder.
#include <NvInfer.h>

#include <memory>
#include <string>

#include "core/tensor.hpp"

namespace alp::trt {

// Since TensorRT 10 objects are released with plain `delete` (destroy() is gone); one deleter for all.
struct TrtDelete {
  template <class T>
  void operator()(T* p) const noexcept {
    delete p;
  }
};
template <class T>
using TrtPtr = std::unique_ptr<T, TrtDelete>;

// Manifest spelling of a TensorRT data type ("float16", ...); unsupported types get a distinct name
// ("int4", "fp4", "e8m0") so that a comparison with the manifest fails with a readable message.
std::string dtype_name(nvinfer1::DataType t);

Shape to_shape(const nvinfer1::Dims& d);
// Throws Error(InvalidInput) naming `what` when the rank exceeds Dims::MAX_DIMS.
nvinfer1::Dims to_dims(const Shape& s, const std::string& what);

// "10.16.0" of the library actually loaded (not the headers built against).
std::string runtime_version_string();

}  // namespace alp::trt
