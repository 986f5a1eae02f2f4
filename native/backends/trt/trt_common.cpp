#include "backends/trt/trt_common.hpp"

#include "core/error.hpp"

namespace alp::trt {

std::string dtype_name(nvinfer1::DataType t) {
  using nvinfer1::DataType;
  switch (t) {
    case DataType::kFLOAT: return "float32";
    case DataType::kHALF: return "float16";
    case DataType::kBF16: return "bfloat16";
    case DataType::kFP8: return "fp8";
    case DataType::kINT8: return "int8";
    case DataType::kINT32: return "int32";
    case DataType::kINT64: return "int64";
    case DataType::kBOOL: return "bool";
    case DataType::kUINT8: return "uint8";
    case DataType::kINT4: return "int4";
    case DataType::kFP4: return "fp4";
    case DataType::kE8M0: return "e8m0";
  }
  return "unknown(" + std::to_string(static_cast<int>(t)) + ")";
}

Shape to_shape(const nvinfer1::Dims& d) {
  Shape s;
  for (int32_t i = 0; i < d.nbDims; ++i) s.push_back(static_cast<int64_t>(d.d[i]));
  return s;
}

nvinfer1::Dims to_dims(const Shape& s, const std::string& what) {
  nvinfer1::Dims d{};
  if (s.size() > static_cast<size_t>(nvinfer1::Dims::MAX_DIMS))
    fail(ErrorCode::InvalidInput, what + ": rank " + std::to_string(s.size()) + " exceeds TensorRT's " +
                                      std::to_string(nvinfer1::Dims::MAX_DIMS));
  d.nbDims = static_cast<int32_t>(s.size());
  for (size_t i = 0; i < s.size(); ++i) d.d[i] = s[i];
  return d;
}

std::string runtime_version_string() {
  return std::to_string(getInferLibMajorVersion()) + "." + std::to_string(getInferLibMinorVersion()) + "." +
         std::to_string(getInferLibPatchVersion());
}

}  // namespace alp::trt
