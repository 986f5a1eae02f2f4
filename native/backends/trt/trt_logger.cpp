#include "backends/trt/trt_logger.hpp"

namespace alp::trt {

namespace {
LogLevel level_of(nvinfer1::ILogger::Severity s) {
  using S = nvinfer1::ILogger::Severity;
  switch (s) {
    case S::kINTERNAL_ERROR:
    case S::kERROR: return LogLevel::Error;
    case S::kWARNING: return LogLevel::Warning;
    case S::kINFO: return LogLevel::Info;
    case S::kVERBOSE: return LogLevel::Verbose;
  }
  return LogLevel::Error;
}
constexpr size_t kKeep = 64;  // bound memory if an engine warns on every enqueue
}  // namespace

Logger::Logger(LogSink sink, LogLevel min_level) : sink_(std::move(sink)), min_level_(min_level) {}

void Logger::log(Severity severity, nvinfer1::AsciiChar const* msg) noexcept {
  const LogLevel level = level_of(severity);
  try {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (level == LogLevel::Error && errors_.size() < kKeep) errors_.emplace_back(msg ? msg : "");
      if (level == LogLevel::Warning && warnings_.size() < kKeep) warnings_.emplace_back(msg ? msg : "");
    }
    if (sink_ && level <= min_level_) sink_(level, msg ? msg : "");
  } catch (...) {
    // log() is noexcept towards TensorRT; a failing sink must not terminate the process.
  }
}

std::vector<std::string> Logger::warnings() const {
  std::lock_guard<std::mutex> lock(mu_);
  return warnings_;
}

std::string Logger::take_errors() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& e : errors_) out += (out.empty() ? "" : "; ") + e;
  errors_.clear();
  return out;
}

}  // namespace alp::trt
