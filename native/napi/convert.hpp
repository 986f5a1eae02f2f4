#pragma once
// JS <-> C++ value conversions for the binding. lib/ validates user input first; these checks only
// guard the binding's own contract and throw AlpamayoError(INVALID_INPUT) naming the field.
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace alp::napi {

std::vector<int32_t> int32_vector(Napi::Value v, const char* field);    // Int32Array or number[]
std::vector<double> float64_vector(Napi::Value v, const char* field);   // Float64Array or number[]
std::vector<float> float32_vector(Napi::Value v, const char* field);    // Float32Array or number[]
std::string string_field(Napi::Object o, const char* field);
int int_field(Napi::Object o, const char* field);
double number_field(Napi::Object o, const char* field);

Napi::Int32Array to_int32_array(Napi::Env env, const std::vector<int32_t>& v);
Napi::Float64Array to_float64_array(Napi::Env env, const std::vector<double>& v);
Napi::Float32Array to_float32_array(Napi::Env env, const std::vector<float>& v);

}  // namespace alp::napi
