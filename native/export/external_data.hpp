#pragma once
// The `<model>.onnx.data` file every weight goes to. Weights never enter the protobuf, so models of
// any size (the 8B backbone is ~16 GB in fp16) stay far below protobuf's 2 GB message limit. Each
// tensor starts at a 64-byte aligned offset so that runtimes may mmap and use it in place.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "export/onnx_proto.hpp"

namespace alp::exporter {

class ExternalDataFile {
 public:
  static constexpr uint64_t kAlignment = 64;

  // Creates (truncates) `path`; `location` is the name recorded in the model (relative to the .onnx).
  ExternalDataFile(const std::string& path, std::string location);

  // Appends `bytes` at the next aligned offset.
  onnx::ExternalLocation append(std::string_view bytes);
  void flush();
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::string path_;
  std::string location_;
  std::unique_ptr<std::FILE, Closer> file_;
  uint64_t size_ = 0;
};

}  // namespace alp::exporter
