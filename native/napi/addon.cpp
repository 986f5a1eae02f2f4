// Module entry: the addon's exports. Each function converts arguments, calls the core, and turns
// alp::Error into AlpamayoError (napi/errors.hpp); long work runs on a planner's worker thread.
#include <napi.h>

#include "backends/registry.hpp"
#include "core/error.hpp"
#include "napi/errors.hpp"
#include "napi/module_functions.hpp"
#include "napi/planner_wrap.hpp"

namespace {

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const alp::BackendReport r = alp::probe_backends();
  Napi::Object out = Napi::Object::New(env);
  out.Set("variant", ALPAMAYO_VARIANT);
  out.Set("cpu", true);
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", r.cuda_compiled);
  cuda.Set("devices", r.cuda_devices);
  if (!r.cuda_error.empty()) cuda.Set("error", r.cuda_error);
  out.Set("cuda", cuda);
  Napi::Object trt = Napi::Object::New(env);
  trt.Set("compiled", r.tensorrt_compiled);
  if (r.tensorrt_compiled) trt.Set("version", r.tensorrt_version);
  out.Set("tensorrt", trt);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new alp::napi::AddonData());  // deleted by N-API at env teardown
  exports.Set("backends", Napi::Function::New(env, Backends, "backends"));
  Napi::Array codes = Napi::Array::New(env);
  // Every alp::ErrorCode in enum order (Internal is the last enumerator; error_code_name's switch
  // names each one, -Wswitch keeps it complete). lib/'s ALPAMAYO_ERROR_CODES is tested against this.
  for (int c = 0; c <= static_cast<int>(alp::ErrorCode::Internal); ++c)
    codes.Set(codes.Length(), alp::error_code_name(static_cast<alp::ErrorCode>(c)));
  exports.Set("errorCodes", codes);
  exports.Set("setErrorClass", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                alp::napi::set_error_class(info);
              }));
  exports.Set("Planner", alp::napi::PlannerWrap::define(env));
  alp::napi::register_module_functions(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(alpamayo_trt, Init)
