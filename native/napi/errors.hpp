#pragma once
// alp::Error -> AlpamayoError. lib/ hands its error class to the addon once (setErrorClass); errors are
// built on the JS thread only.
#include <napi.h>

#include <string>

#include "core/error.hpp"

namespace alp::napi {

struct ErrorInfo {
  ErrorCode code = ErrorCode::Internal;
  std::string message;
};

// Per-environment addon state (worker threads or several contexts each get their own).
struct AddonData {
  Napi::FunctionReference error_class;
};

void set_error_class(const Napi::CallbackInfo& info);
Napi::Error make_error(Napi::Env env, const ErrorInfo& e);
[[noreturn]] void throw_error(Napi::Env env, ErrorCode code, const std::string& message);

// Runs `fn` and converts any C++ exception into a pending JS exception (returns undefined then).
template <class Fn>
Napi::Value guarded(Napi::Env env, Fn&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const Error& e) {
    throw make_error(env, {e.code(), e.what()});
  } catch (const std::exception& e) {
    throw make_error(env, {ErrorCode::Internal, e.what()});
  }
}

// Captures the current exception as ErrorInfo (worker threads).
ErrorInfo current_exception_info() noexcept;

}  // namespace alp::napi
