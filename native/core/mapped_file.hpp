#pragma once
// Read-only mmap of a whole file, unmapped in the destructor.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.hpp"

namespace alp {

class MappedFile {
 public:
  // Throws Error(code_on_failure) naming the path and errno text. Empty files map to size 0.
  static std::shared_ptr<const MappedFile> open(const std::string& path,
                                                ErrorCode code_on_failure = ErrorCode::InvalidCheckpoint);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace alp
