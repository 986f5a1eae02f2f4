#pragma once
// TensorRT's logging callback, routed to the caller's sink. Warnings and errors are also kept, so that
// a null from deserializeCudaEngine or buildSerializedNetwork becomes an error carrying TensorRT's own
// explanation instead of "returned null".
#include <NvInfer.h>

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace alp::trt {

enum class LogLevel { Error, Warning, Info, Verbose };
using LogSink = std::function<void(LogLevel, std::string_view)>;

class Logger final : public nvinfer1::ILogger {
 public:
  // Messages below `min_level` are dropped before reaching the sink (TensorRT's verbose output is large).
  explicit Logger(LogSink sink = {}, LogLevel min_level = LogLevel::Warning);
  void log(Severity severity, nvinfer1::AsciiChar const* msg) noexcept override;

  std::vector<std::string> warnings() const;
  // Errors logged since the last call, joined with "; " (empty when none); clears them.
  std::string take_errors();

 private:
  LogSink sink_;
  LogLevel min_level_;
  mutable std::mutex mu_;  // TensorRT may log from its builder worker threads
  std::vector<std::string> warnings_;
  std::vector<std::string> errors_;
};

}  // namespace alp::trt
