#pragma once
// Test-only: the runner includes <NvInfer.h>; its runtime part is all the fake provides (the builder
// and network classes are not declared, so engine_builder.cpp is not compiled against the fake).
#include <NvInferRuntime.h>
