#include "backends/registry.hpp"

#if ALPAMAYO_HAVE_CUDA
#include "backends/cuda/device.hpp"
#endif
#if ALPAMAYO_HAVE_TENSORRT
#include <NvInferVersion.h>
#endif

namespace alp {

BackendReport probe_backends() {
  BackendReport r;
#if ALPAMAYO_HAVE_CUDA
  r.cuda_compiled = true;
  r.cuda_devices = cuda::device_count(&r.cuda_error);
#endif
#if ALPAMAYO_HAVE_TENSORRT
  r.tensorrt_compiled = true;
  r.tensorrt_version = NV_TENSORRT_MAJOR * 10000 + NV_TENSORRT_MINOR * 100 + NV_TENSORRT_PATCH;
#endif
  return r;
}

}  // namespace alp
