#pragma once
// Stateless addon functions: checkpoint tools and the pure trajectory helpers lib/ exposes.
#include <napi.h>

namespace alp::napi {
void register_module_functions(Napi::Env env, Napi::Object exports);
}
