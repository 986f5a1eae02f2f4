#pragma once
// Read-only mmap of a whole file, unmapped in the destructor. The descriptor stays open too, so bytes
// can also be read with pread(): a file truncated after open() then gives a short read (an error)
// instead of the SIGBUS a touch of the mapping's missing pages raises.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
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
  // Copies [offset, offset + out.size()) of the file as it is now into `out` with pread(). Throws
  // Error(InvalidCheckpoint) when the file has become shorter (truncated after open) or the read fails.
  void read_at(uint64_t offset, std::span<uint8_t> out) const;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;
  std::string path_;
};

}  // namespace alp
