#include "backends/cuda/nvidia_libs.hpp"

#include <dlfcn.h>

#include <mutex>
#include <vector>

#if ALPAMAYO_HAVE_CUDNN
#include <cudnn.h>
#endif

namespace cudnn_frontend {
#if ALPAMAYO_HAVE_CUDNN
// cudnn-frontend's dynamic-loading mode resolves every cuDNN call through this handle.
void* cudnn_dlhandle = nullptr;
#endif
}  // namespace cudnn_frontend

namespace alp::cuda {
namespace {

// dlopen by soname, then from each fallback folder. RTLD_GLOBAL: cuDNN's sub-libraries and
// cudnn-frontend's own dlopen("libcudart.so.13") then find the copies opened here.
void* open_library(const char* soname, const std::vector<std::string>& dirs, LibraryStatus& st) {
  std::string errors;
  auto attempt = [&](const std::string& path) -> void* {
    dlerror();
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (h) {
      st.path = path;
      return h;
    }
    const char* e = dlerror();
    errors += (errors.empty() ? "" : "; ") + std::string(e ? e : path + ": unknown dlopen error");
    return nullptr;
  };
  if (void* h = attempt(soname)) return h;
  for (const std::string& d : dirs)
    if (!d.empty())
      if (void* h = attempt(d + "/" + soname)) return h;
  st.error = errors;
  return nullptr;
}

[[maybe_unused]] std::vector<std::string> dirs_of(std::initializer_list<const char*> ds) {
  std::vector<std::string> v;
  for (const char* d : ds)
    if (d && *d) v.emplace_back(d);
  return v;
}

#ifndef ALPAMAYO_CUBLASLT_DIR
#define ALPAMAYO_CUBLASLT_DIR ""
#endif
#ifndef ALPAMAYO_CUDNN_DIR
#define ALPAMAYO_CUDNN_DIR ""
#endif
#ifndef ALPAMAYO_CUDART_DIR
#define ALPAMAYO_CUDART_DIR ""
#endif

#if ALPAMAYO_HAVE_CUBLASLT
struct LtState {
  LibraryStatus status;
  CublasLtApi api;
  bool ok = false;
};
const LtState& lt_state() {
  static const LtState s = [] {
    LtState st;
    void* h = open_library("libcublasLt.so.13", dirs_of({ALPAMAYO_CUBLASLT_DIR}), st.status);
    if (!h) return st;
    bool all = true;
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, name));
      if (!fn) {
        all = false;
        st.status.error += std::string(st.status.error.empty() ? "" : "; ") + "missing symbol " + name;
      }
    };
    CublasLtApi& a = st.api;
    sym(a.create, "cublasLtCreate");
    sym(a.destroy, "cublasLtDestroy");
    sym(a.get_version, "cublasLtGetVersion");
    sym(a.status_name, "cublasLtGetStatusName");
    sym(a.status_string, "cublasLtGetStatusString");
    sym(a.desc_create, "cublasLtMatmulDescCreate");
    sym(a.desc_destroy, "cublasLtMatmulDescDestroy");
    sym(a.desc_set, "cublasLtMatmulDescSetAttribute");
    sym(a.layout_create, "cublasLtMatrixLayoutCreate");
    sym(a.layout_destroy, "cublasLtMatrixLayoutDestroy");
    sym(a.pref_create, "cublasLtMatmulPreferenceCreate");
    sym(a.pref_destroy, "cublasLtMatmulPreferenceDestroy");
    sym(a.pref_set, "cublasLtMatmulPreferenceSetAttribute");
    sym(a.heuristic, "cublasLtMatmulAlgoGetHeuristic");
    sym(a.matmul, "cublasLtMatmul");
    if (!all) return st;
    const size_t v = a.get_version();  // major * 10000 + minor * 100 + patch
    if (v / 10000 != CUBLAS_VER_MAJOR) {
      st.status.error = "libcublasLt " + std::to_string(v) + " does not match the headers' major version " +
                        std::to_string(CUBLAS_VER_MAJOR);
      return st;
    }
    st.status.version = std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
    st.status.loaded = st.ok = true;
    return st;
  }();
  return s;
}
#endif

#if ALPAMAYO_HAVE_CUDNN
const LibraryStatus& dnn_state() {
  static const LibraryStatus s = [] {
    LibraryStatus st;
    // The front end's own runtime calls go to libcudart.so.13; make sure one is loaded first.
    LibraryStatus rt;
    if (!open_library("libcudart.so.13", dirs_of({ALPAMAYO_CUDART_DIR, ALPAMAYO_CUBLASLT_DIR}), rt)) {
      st.error = "libcudart.so.13 (needed by cudnn-frontend) not found: " + rt.error;
      return st;
    }
    void* h = open_library("libcudnn.so.9", dirs_of({ALPAMAYO_CUDNN_DIR}), st);
    if (!h) return st;
    using GetVersion = size_t (*)();
    auto ver = reinterpret_cast<GetVersion>(dlsym(h, "cudnnGetVersion"));
    if (!ver) {
      st.error = "libcudnn.so.9 lacks cudnnGetVersion";
      return st;
    }
    const size_t v = ver();  // major * 10000 + minor * 100 + patch (cuDNN 9)
    if (v / 10000 != CUDNN_MAJOR) {
      st.error = "libcudnn " + std::to_string(v) + " does not match the headers' major version " + std::to_string(CUDNN_MAJOR);
      return st;
    }
    st.version = std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
    cudnn_frontend::cudnn_dlhandle = h;
    st.loaded = true;
    return st;
  }();
  return s;
}
#endif

}  // namespace

#if ALPAMAYO_HAVE_CUBLASLT
const CublasLtApi* cublaslt_api() { return lt_state().ok ? &lt_state().api : nullptr; }
LibraryStatus cublaslt_status() { return lt_state().status; }
#else
LibraryStatus cublaslt_status() { return {false, "", "", "not compiled in (cublasLt.h was not found at build time)"}; }
#endif

#if ALPAMAYO_HAVE_CUDNN
bool cudnn_available() { return dnn_state().loaded; }
LibraryStatus cudnn_status() { return dnn_state(); }
#else
bool cudnn_available() { return false; }
LibraryStatus cudnn_status() { return {false, "", "", "not compiled in (cudnn.h was not found at build time)"}; }
#endif

std::string nvidia_library_summary(bool want_cublaslt, bool want_cudnn) {
  auto one = [](const char* name, const LibraryStatus& s, const char* fallback) {
    return s.loaded ? std::string(name) + " " + s.version
                    : std::string(fallback) + " (" + name + " unavailable: " + s.error + ")";
  };
  std::string out = want_cublaslt ? one("cuBLASLt", cublaslt_status(), "built-in GEMM") : "built-in GEMM";
  out += ", ";
  out += want_cudnn ? one("cuDNN", cudnn_status(), "built-in attention") : "built-in attention";
  return out;
}

}  // namespace alp::cuda
