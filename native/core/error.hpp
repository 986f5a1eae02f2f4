#pragma once
// Errors inside the native core are exceptions of this one type. The N-API boundary turns them into
// AlpamayoError with the same `code`; nothing else is allowed to escape a worker thread.
#include <stdexcept>
#include <string>

namespace alp {

enum class ErrorCode {
  InvalidInput,
  InvalidCheckpoint,
  InvalidEngine,
  BackendUnavailable,
  Aborted,
  Disposed,
  Busy,
  ResourceExhausted,  // memory (host or device) or address space ran out, or would at load
  Internal
};

// Stable string form, identical to the TypeScript `AlpamayoErrorCode` union.
const char* error_code_name(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) { throw Error(code, message); }

// Precondition on data we did not produce (files, user input): throws, never asserts.
inline void require(bool ok, ErrorCode code, const std::string& message) {
  if (!ok) fail(code, message);
}

}  // namespace alp
