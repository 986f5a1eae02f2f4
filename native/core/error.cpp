#include "core/error.hpp"

namespace alp {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidInput: return "INVALID_INPUT";
    case ErrorCode::InvalidCheckpoint: return "INVALID_CHECKPOINT";
    case ErrorCode::InvalidEngine: return "INVALID_ENGINE";
    case ErrorCode::BackendUnavailable: return "BACKEND_UNAVAILABLE";
    case ErrorCode::Aborted: return "ABORTED";
    case ErrorCode::Disposed: return "DISPOSED";
    case ErrorCode::Busy: return "BUSY";
    case ErrorCode::ResourceExhausted: return "RESOURCE_EXHAUSTED";
    case ErrorCode::Internal: return "INTERNAL";
  }
  return "INTERNAL";
}

}  // namespace alp
