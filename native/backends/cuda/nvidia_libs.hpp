#pragma once
// NVIDIA's libraries opened at run time. The addon links neither cuBLASLt nor cuDNN: a plain
// DT_NEEDED on libcublasLt.so.13 / libcudnn.so.9 would make the whole addon fail to load (CPU backend
// included) on any machine without them, and RPATH into a build machine's pip wheel folder would only
// move that failure. So they are dlopen'ed once, on first use by a CUDA executor: first by soname
// (LD_LIBRARY_PATH, ldconfig, an already loaded copy, e.g. PyTorch's), then from the folders CMake found
// them in at build time. Where one is missing the CUDA backend runs its own kernels and says so in the
// executor's device description (never silently).
#include <string>

#if ALPAMAYO_HAVE_CUBLASLT
#include <cublasLt.h>
#endif

namespace alp::cuda {

struct LibraryStatus {
  bool loaded = false;
  std::string path;     // what was opened
  std::string version;  // e.g. "13.1.1"
  std::string error;    // why not, when !loaded (not compiled in, or every dlopen failed)
};

#if ALPAMAYO_HAVE_CUBLASLT
// The cuBLASLt entry points used here, resolved with dlsym (signatures from cublasLt.h).
struct CublasLtApi {
  decltype(&cublasLtCreate) create = nullptr;
  decltype(&cublasLtDestroy) destroy = nullptr;
  decltype(&cublasLtGetVersion) get_version = nullptr;
  decltype(&cublasLtGetStatusName) status_name = nullptr;
  decltype(&cublasLtGetStatusString) status_string = nullptr;
  decltype(&cublasLtMatmulDescCreate) desc_create = nullptr;
  decltype(&cublasLtMatmulDescDestroy) desc_destroy = nullptr;
  decltype(&cublasLtMatmulDescSetAttribute) desc_set = nullptr;
  decltype(&cublasLtMatrixLayoutCreate) layout_create = nullptr;
  decltype(&cublasLtMatrixLayoutDestroy) layout_destroy = nullptr;
  decltype(&cublasLtMatmulPreferenceCreate) pref_create = nullptr;
  decltype(&cublasLtMatmulPreferenceDestroy) pref_destroy = nullptr;
  decltype(&cublasLtMatmulPreferenceSetAttribute) pref_set = nullptr;
  decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic = nullptr;
  decltype(&cublasLtMatmul) matmul = nullptr;
};
// Null when libcublasLt could not be opened or lacks a symbol (cublaslt_status() says which).
const CublasLtApi* cublaslt_api();
#endif

LibraryStatus cublaslt_status();
// Opens libcudnn.so.9 and hands it to cudnn-frontend (NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING), plus
// libcudart.so.13 for the few runtime calls the front end makes itself. True when usable.
bool cudnn_available();
LibraryStatus cudnn_status();

// "cuBLASLt 13.1.1, cuDNN 9.24.0" or the reasons they are not used: for ExecutorInfo::device.
std::string nvidia_library_summary(bool want_cublaslt, bool want_cudnn);

}  // namespace alp::cuda
