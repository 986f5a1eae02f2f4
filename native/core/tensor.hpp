#pragma once
// Host tensors: a dtype, a shape (row-major, contiguous) and bytes that are either owned or a view into
// memory kept alive by `keepalive` (an mmapped checkpoint shard). Device tensors belong to backends.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.hpp"

namespace alp {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);       // throws InvalidInput on negative dims or int64 overflow
std::string shape_str(const Shape& s);     // "[2, 3]"

class Tensor {
 public:
  Tensor() = default;
  // Owned, zero-initialised storage.
  Tensor(DType dtype, Shape shape);
  // Non-owning view; `keepalive` owns the memory behind `data`.
  static Tensor view(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> keepalive);
  static Tensor from_f32(Shape shape, std::span<const float> values);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_.at(i); }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  const void* data() const { return data_; }
  void* mutable_data();  // throws Internal on a view
  template <class T> const T* as() const { return static_cast<const T*>(data_); }
  template <class T> T* mutable_as() { return static_cast<T*>(mutable_data()); }

  // Widened copy in fp32 (exact for bf16/f16/fp8 sources).
  std::vector<float> to_f32() const;
  // The same into caller-owned storage of exactly numel() floats (InvalidInput otherwise).
  void to_f32(std::span<float> out) const;

 private:
  DType dtype_ = DType::F32;
  Shape shape_;
  int64_t numel_ = 0;
  const void* data_ = nullptr;
  std::shared_ptr<std::vector<uint8_t>> owned_;
  std::shared_ptr<const void> keepalive_;
};

}  // namespace alp
