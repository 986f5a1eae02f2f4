// The only translation unit that knows about JavaScript. Everything below it throws alp::Error; here
// those become AlpamayoError objects (the class is handed in from lib/ by `initialize`).
#include <napi.h>

#include "backends/registry.hpp"

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
  exports.Set("backends", Napi::Function::New(env, Backends, "backends"));
  return exports;
}

}  // namespace

NODE_API_MODULE(alpamayo_trt, Init)
