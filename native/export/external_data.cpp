#include "export/external_data.hpp"

#include <cerrno>
#include <cstring>

#include "core/error.hpp"

namespace alp::exporter {

namespace {
[[noreturn]] void io_fail(const std::string& what, const std::string& path) {
  fail(ErrorCode::InvalidInput, what + " '" + path + "': " + std::strerror(errno));
}
}  // namespace

ExternalDataFile::ExternalDataFile(const std::string& path, std::string location)
    : path_(path), location_(std::move(location)), file_(std::fopen(path.c_str(), "wb")) {
  if (!file_) io_fail("cannot create ONNX external data file", path);
}

onnx::ExternalLocation ExternalDataFile::append(std::string_view bytes) {
  const uint64_t pad = (kAlignment - size_ % kAlignment) % kAlignment;
  static const char zeros[kAlignment] = {};
  if (pad && std::fwrite(zeros, 1, pad, file_.get()) != pad) io_fail("cannot write", path_);
  size_ += pad;
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file_.get()) != bytes.size())
    io_fail("cannot write", path_);
  onnx::ExternalLocation loc{location_, size_, bytes.size()};
  size_ += bytes.size();
  return loc;
}

void ExternalDataFile::flush() {
  if (std::fflush(file_.get()) != 0) io_fail("cannot flush", path_);
}

}  // namespace alp::exporter
