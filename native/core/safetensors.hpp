#pragma once
// safetensors reader (mmap, zero-copy views) and writer. The reader validates the whole header before
// anything is used: header length within the file, valid JSON object, known dtype, non-negative shape
// with numel*size == byte range, ranges inside the data section and not overlapping. Any violation is
// Error(InvalidCheckpoint) naming the file and the tensor.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/mapped_file.hpp"
#include "core/tensor.hpp"

namespace alp {

struct TensorInfo {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0;  // offsets relative to the data section
  uint64_t end = 0;
};

class SafetensorsFile {
 public:
  static std::shared_ptr<const SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  const std::map<std::string, TensorInfo, std::less<>>& tensors() const { return tensors_; }
  const std::map<std::string, std::string, std::less<>>& metadata() const { return metadata_; }
  const TensorInfo* find(std::string_view name) const;
  // Zero-copy view; keeps the mapping alive. Throws InvalidCheckpoint if absent. A tensor whose bytes are
  // not aligned to its element size in the file (the format does not promise alignment) is returned as
  // an owned copy instead, because typed access to misaligned memory is undefined behaviour.
  Tensor tensor(std::string_view name) const;
  // Owned copy read with pread() rather than through the mapping: a shard truncated after open gives
  // Error(InvalidCheckpoint) here, where touching the mapping would raise SIGBUS.
  Tensor read_tensor(std::string_view name) const;

 private:
  std::shared_ptr<const MappedFile> file_;
  const uint8_t* data_section_ = nullptr;
  uint64_t data_offset_ = 0;  // file offset of the data section
  std::map<std::string, TensorInfo, std::less<>> tensors_;
  std::map<std::string, std::string, std::less<>> metadata_;
};

struct NamedTensor {
  std::string name;
  Tensor tensor;
};
// Writes tensors in the given order, 8-byte aligned header as the format recommends.
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace alp
