// cuBLASLt tensor-core GEMM. Compiled where cublasLt.h was found (ALPAMAYO_HAVE_CUBLASLT); the library
// itself is opened at run time (nvidia_libs.cpp). launch_gemm_fallback covers every other case.
#if ALPAMAYO_HAVE_CUBLASLT
#include <cublasLt.h>

#include <string>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/gemm.hpp"
#include "backends/cuda/nvidia_libs.hpp"
#include "backends/cuda/weight_convert.hpp"

namespace alp::cuda {
namespace {

const CublasLtApi& api_or_throw() {
  const CublasLtApi* a = cublaslt_api();
  if (!a) fail(ErrorCode::BackendUnavailable, "cuBLASLt unavailable: " + cublaslt_status().error);
  return *a;
}

void check_lt(const CublasLtApi& api, cublasStatus_t st, const char* call) {
  if (st != CUBLAS_STATUS_SUCCESS)
    fail(st == CUBLAS_STATUS_NOT_SUPPORTED || st == CUBLAS_STATUS_ARCH_MISMATCH ? ErrorCode::BackendUnavailable
                                                                               : ErrorCode::Internal,
         std::string(call) + " failed: " + api.status_name(st) + " (" + api.status_string(st) + ")");
}

cudaDataType_t lt_type(DType t) {
  switch (t) {
    case DType::BF16: return CUDA_R_16BF;
    case DType::F16: return CUDA_R_16F;
    case DType::F8E4M3: return CUDA_R_8F_E4M3;
    default:
      fail(ErrorCode::Internal, "CublasLtGemm: weight dtype " + std::string(dtype_name(t)) +
                                    " unsupported, expected BF16, F16 or F8E4M3 (F32 uses the fallback)");
  }
}

}  // namespace

// Descriptors and the algorithm for one (shape, dtype, epilogue) key; the per-call pointers (bias,
// scales) are set on `op` before each matmul.
struct CublasLtGemm::Plan {
  const CublasLtApi* api = nullptr;
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool usable = false;       // an algorithm exists for this shape
  bool bias_epilogue = false;  // the bias is applied by cuBLASLt (else by launch_add_bias_rows)
  ~Plan() {
    if (op) api->desc_destroy(op);
    for (auto* l : {la, lb, lc})
      if (l) api->layout_destroy(l);
  }
};

CublasLtGemm::CublasLtGemm(size_t workspace_bytes)
    : api_(&api_or_throw()), workspace_(workspace_bytes, "cuBLASLt workspace"), scales_(2 * sizeof(float), "fp8 scales") {
  cublasLtHandle_t h = nullptr;
  check_lt(*api_, api_->create(&h), "cublasLtCreate");
  handle_ = h;
}
CublasLtGemm::~CublasLtGemm() {
  plans_.clear();
  if (handle_) api_->destroy(static_cast<cublasLtHandle_t>(handle_));
}

size_t CublasLtGemm::scratch_bytes_needed(int64_t m, int64_t k) { return size_t(m) * size_t(k) * 2; }

bool CublasLtGemm::reserve(int64_t m, int64_t k) {
  if (fits(m, k)) return false;
  x_cast_ = DeviceBuffer();  // free first: the old and new scratch never need to coexist
  x_cast_ = DeviceBuffer(scratch_bytes_needed(m, k), "cuBLASLt activation scratch");
  return true;
}

CublasLtGemm::Plan& CublasLtGemm::plan_for(const GemmArgs& a) {
  const auto key = std::make_tuple(a.m, a.n, a.k, int(a.w.dtype), a.bias != nullptr, a.residual != nullptr);
  if (auto it = plans_.find(key); it != plans_.end()) return *it->second;
  auto p = std::make_unique<Plan>();
  p->api = api_;
  const CublasLtApi& L = *api_;
  const cudaDataType_t wt = lt_type(a.w.dtype);
  check_lt(L, L.desc_create(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  // Row-major Y[M,N] = X W^T is column-major Y^T[N,M] = W(col-major KxN)^T . X(col-major KxM): "TN",
  // which is also the only layout FP8 kernels accept.
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  check_lt(L, L.desc_set(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "set TRANSA");
  check_lt(L, L.desc_set(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "set TRANSB");
  check_lt(L, L.layout_create(&p->la, wt, uint64_t(a.k), uint64_t(a.n), a.k), "cublasLtMatrixLayoutCreate(A)");
  check_lt(L, L.layout_create(&p->lb, wt, uint64_t(a.k), uint64_t(a.m), a.k), "cublasLtMatrixLayoutCreate(B)");
  check_lt(L, L.layout_create(&p->lc, CUDA_R_32F, uint64_t(a.n), uint64_t(a.m), a.n), "cublasLtMatrixLayoutCreate(C)");

  cublasLtMatmulPreference_t pref = nullptr;
  check_lt(L, L.pref_create(&pref), "cublasLtMatmulPreferenceCreate");
  const uint64_t ws = workspace_.bytes();
  L.pref_set(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  auto find = [&](bool bias) {
    const cublasLtEpilogue_t epi = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    L.desc_set(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi));
    if (bias) {
      const cudaDataType_t bt = CUDA_R_32F;
      L.desc_set(p->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt));
      const void* bp = a.bias;
      L.desc_set(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof(bp));
    }
    if (a.w.dtype == DType::F8E4M3) {
      const void* sa = a.w.scale_dev;
      const void* sb = scales_.get();
      L.desc_set(p->op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof(sa));
      L.desc_set(p->op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof(sb));
    }
    cublasLtMatmulHeuristicResult_t heur{};
    int found = 0;
    const cublasStatus_t st = L.heuristic(static_cast<cublasLtHandle_t>(handle_), p->op, p->la, p->lb, p->lc, p->lc,
                                          pref, 1, &heur, &found);
    if (st == CUBLAS_STATUS_SUCCESS && found > 0) {
      p->algo = heur.algo;
      p->usable = true;
      p->bias_epilogue = bias;
      return true;
    }
    return false;
  };
  // Bias in the epilogue where an algorithm takes it; else the matmul alone plus one bias kernel.
  if (!(a.bias && find(true))) find(false);
  L.pref_destroy(pref);
  return *plans_.emplace(key, std::move(p)).first->second;
}

bool CublasLtGemm::run(const GemmArgs& a, cudaStream_t s) {
  if (a.m == 0 || a.n == 0) return true;
  const bool fp8 = a.w.dtype == DType::F8E4M3;
  require(!fp8 || a.w.scale_dev, ErrorCode::Internal, "CublasLtGemm: fp8 weight without a device scale");
  require(fits(a.m, a.k), ErrorCode::Internal,
          "CublasLtGemm: activation [" + std::to_string(a.m) + ", " + std::to_string(a.k) + "] exceeds the scratch of " +
              std::to_string(x_cast_.bytes()) + " bytes (reserve() before capture)");
  Plan& p = plan_for(a);
  if (!p.usable) return false;
  const CublasLtApi& L = *api_;
  if (fp8) {
    float* sc = scales_.as<float>();
    launch_fp8_quantise(a.x, DType::F32, a.m * a.k, static_cast<uint8_t*>(x_cast_.get()), sc, sc + 1, s);
    const void* sa = a.w.scale_dev;
    const void* sb = sc;
    check_lt(L, L.desc_set(p.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof(sa)), "set A_SCALE_POINTER");
    check_lt(L, L.desc_set(p.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof(sb)), "set B_SCALE_POINTER");
  } else {
    launch_cast_from_f32(a.x, x_cast_.get(), a.w.dtype, 1.0f, a.m * a.k, s);
  }
  if (p.bias_epilogue) {
    const void* bp = a.bias;
    check_lt(L, L.desc_set(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof(bp)), "set BIAS_POINTER");
  }
  const float alpha = 1.0f, beta = a.residual ? 1.0f : 0.0f;
  const void* c = a.residual ? static_cast<const void*>(a.residual) : static_cast<const void*>(a.y);
  check_lt(L,
           L.matmul(static_cast<cublasLtHandle_t>(handle_), p.op, &alpha, a.w.data, p.la, x_cast_.get(), p.lb, &beta, c,
                    p.lc, a.y, p.lc, &p.algo, workspace_.get(), workspace_.bytes(), s),
           "cublasLtMatmul");
  if (a.bias && !p.bias_epilogue) launch_add_bias_rows(a.y, a.bias, a.m, a.n, s);
  return true;
}

}  // namespace alp::cuda
#endif
