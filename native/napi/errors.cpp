#include "napi/errors.hpp"

#include <exception>
#include <filesystem>
#include <new>

namespace alp::napi {

void set_error_class(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "setErrorClass expects a class");
  AddonData* data = env.GetInstanceData<AddonData>();
  data->error_class = Napi::Persistent(info[0].As<Napi::Function>());
}

Napi::Error make_error(Napi::Env env, const ErrorInfo& e) {
  const char* code = error_code_name(e.code);
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data && !data->error_class.IsEmpty()) {
    Napi::Object obj = data->error_class.New({Napi::String::New(env, e.message), Napi::String::New(env, code)});
    return Napi::Error(env, obj);
  }
  Napi::Error err = Napi::Error::New(env, e.message);
  err.Set("code", code);
  return err;
}

void throw_error(Napi::Env env, ErrorCode code, const std::string& message) { throw make_error(env, {code, message}); }

ErrorInfo current_exception_info() noexcept {
  try {
    throw;
  } catch (const Error& e) {
    return {e.code(), e.what()};
  } catch (const std::filesystem::filesystem_error& e) {
    // A path the caller gave cannot be created or read (permissions, a file in the way): not a bug in our code.
    return {ErrorCode::InvalidInput, e.what()};
  } catch (const std::bad_alloc&) {
    return {ErrorCode::Internal, "out of memory"};
  } catch (const std::exception& e) {
    return {ErrorCode::Internal, e.what()};
  } catch (...) {
    return {ErrorCode::Internal, "unknown native exception"};
  }
}

}  // namespace alp::napi
