#include "core/tensor.hpp"

#include <cstring>

#include "core/error.hpp"

namespace alp {

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    require(s[i] >= 0, ErrorCode::InvalidInput,
            "shape " + shape_str(s) + ": dimension " + std::to_string(i) + " is negative (" + std::to_string(s[i]) + ")");
    require(!__builtin_mul_overflow(n, s[i], &n), ErrorCode::InvalidInput,
            "shape " + shape_str(s) + ": element count overflows int64");
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

namespace {
size_t checked_nbytes(DType dtype, int64_t numel, const Shape& shape) {
  size_t bytes = 0;
  require(!__builtin_mul_overflow(static_cast<uint64_t>(numel), dtype_size(dtype), &bytes), ErrorCode::InvalidInput,
          "shape " + shape_str(shape) + ": byte size overflows");
  return bytes;
}
}  // namespace

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  owned_ = std::make_shared<std::vector<uint8_t>>(checked_nbytes(dtype_, numel_, shape_));
  data_ = owned_->data();
}

Tensor Tensor::view(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> keepalive) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  checked_nbytes(dtype, t.numel_, t.shape_);
  require(data != nullptr || t.numel_ == 0, ErrorCode::Internal, "Tensor::view: null data for a non-empty tensor");
  t.data_ = data;
  t.keepalive_ = std::move(keepalive);
  return t;
}

Tensor Tensor::from_f32(Shape shape, std::span<const float> values) {
  Tensor t(DType::F32, std::move(shape));
  require(static_cast<uint64_t>(t.numel_) == values.size(), ErrorCode::InvalidInput,
          "Tensor::from_f32: shape " + shape_str(t.shape_) + " needs " + std::to_string(t.numel_) +
              " values, got " + std::to_string(values.size()));
  if (!values.empty()) std::memcpy(t.owned_->data(), values.data(), values.size_bytes());
  return t;
}

void* Tensor::mutable_data() {
  require(owned_ != nullptr || (numel_ == 0 && data_ == nullptr), ErrorCode::Internal,
          "Tensor::mutable_data: tensor is a read-only view");
  return owned_ ? owned_->data() : nullptr;
}

std::vector<float> Tensor::to_f32() const {
  std::vector<float> out(static_cast<size_t>(numel_));
  to_f32(out);
  return out;
}

void Tensor::to_f32(std::span<float> out) const {
  require(out.size() == static_cast<size_t>(numel_), ErrorCode::InvalidInput,
          "Tensor::to_f32: " + std::to_string(out.size()) + " floats for " + std::to_string(numel_) + " values");
  convert_to_f32(dtype_, data_, out.data(), out.size());
}

}  // namespace alp
