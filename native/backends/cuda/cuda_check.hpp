#pragma once
// Turns a failed CUDA runtime call into alp::Error. "No device / no driver" conditions become
// BackendUnavailable (the caller asked for a backend this machine cannot run); everything else is
// Internal. The message names the call so a log line points at the failing site.
#include <cuda_runtime.h>

#include "core/error.hpp"

namespace alp::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call);

inline void check(cudaError_t e, const char* call) {
  if (e != cudaSuccess) throw_cuda_error(e, call);
}

// Checks the launch configuration of the kernel just enqueued (not its execution, which is async).
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace alp::cuda

#define ALP_CUDA(call) ::alp::cuda::check((call), #call)
