#include "napi/convert.hpp"

#include <cmath>
#include <cstring>

#include "napi/errors.hpp"

namespace alp::napi {

namespace {

template <class T, napi_typedarray_type kType>
std::vector<T> numeric_vector(Napi::Value v, const char* field) {
  Napi::Env env = v.Env();
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() != kType) throw_error(env, ErrorCode::InvalidInput, std::string(field) + ": wrong typed-array type");
    auto typed = v.As<Napi::TypedArrayOf<T>>();
    return std::vector<T>(typed.Data(), typed.Data() + typed.ElementLength());
  }
  if (v.IsArray()) {
    Napi::Array a = v.As<Napi::Array>();
    std::vector<T> out(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value e = a.Get(i);
      if (!e.IsNumber()) throw_error(env, ErrorCode::InvalidInput, std::string(field) + "[" + std::to_string(i) + "]: expected a number");
      out[i] = static_cast<T>(e.As<Napi::Number>().DoubleValue());
    }
    return out;
  }
  throw_error(env, ErrorCode::InvalidInput, std::string(field) + ": expected a typed array or an array of numbers");
}

template <class Arr, class T>
Arr to_array(Napi::Env env, const std::vector<T>& v) {
  Arr a = Arr::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
  return a;
}

}  // namespace

std::vector<int32_t> int32_vector(Napi::Value v, const char* field) { return numeric_vector<int32_t, napi_int32_array>(v, field); }
std::vector<double> float64_vector(Napi::Value v, const char* field) { return numeric_vector<double, napi_float64_array>(v, field); }
std::vector<float> float32_vector(Napi::Value v, const char* field) { return numeric_vector<float, napi_float32_array>(v, field); }

std::string string_field(Napi::Object o, const char* field) {
  Napi::Value v = o.Get(field);
  if (!v.IsString()) throw_error(o.Env(), ErrorCode::InvalidInput, std::string(field) + ": expected a string");
  return v.As<Napi::String>();
}

double number_field(Napi::Object o, const char* field) {
  Napi::Value v = o.Get(field);
  if (!v.IsNumber()) throw_error(o.Env(), ErrorCode::InvalidInput, std::string(field) + ": expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

int int_field(Napi::Object o, const char* field) {
  const double d = number_field(o, field);
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 2147483647.0)
    throw_error(o.Env(), ErrorCode::InvalidInput, std::string(field) + ": expected an int32, got " + std::to_string(d));
  return static_cast<int>(d);
}

Napi::Int32Array to_int32_array(Napi::Env env, const std::vector<int32_t>& v) { return to_array<Napi::Int32Array>(env, v); }
Napi::Float64Array to_float64_array(Napi::Env env, const std::vector<double>& v) { return to_array<Napi::Float64Array>(env, v); }
Napi::Float32Array to_float32_array(Napi::Env env, const std::vector<float>& v) { return to_array<Napi::Float32Array>(env, v); }

}  // namespace alp::napi
