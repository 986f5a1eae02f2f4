// cuBLASLt tensor-core GEMM. Compiled only where the cuBLASLt headers and library were found
// (ALPAMAYO_HAVE_CUBLASLT); launch_gemm_fallback covers every other build.
#if ALPAMAYO_HAVE_CUBLASLT
#include <cublasLt.h>

#include <memory>
#include <string>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/gemm.hpp"

namespace alp::cuda {
namespace {

void check_lt(cublasStatus_t st, const char* call) {
  if (st != CUBLAS_STATUS_SUCCESS)
    fail(st == CUBLAS_STATUS_NOT_SUPPORTED || st == CUBLAS_STATUS_ARCH_MISMATCH ? ErrorCode::BackendUnavailable
                                                                               : ErrorCode::Internal,
         std::string(call) + " failed: " + cublasLtGetStatusName(st) + " (" + cublasLtGetStatusString(st) + ")");
}

struct DescDeleter {
  void operator()(cublasLtMatmulDescOpaque_t* d) const { cublasLtMatmulDescDestroy(d); }
  void operator()(cublasLtMatrixLayoutOpaque_t* l) const { cublasLtMatrixLayoutDestroy(l); }
  void operator()(cublasLtMatmulPreferenceOpaque_t* p) const { cublasLtMatmulPreferenceDestroy(p); }
};
using OpDesc = std::unique_ptr<cublasLtMatmulDescOpaque_t, DescDeleter>;
using Layout = std::unique_ptr<cublasLtMatrixLayoutOpaque_t, DescDeleter>;
using Pref = std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, DescDeleter>;

Layout make_layout(cudaDataType_t t, uint64_t rows, uint64_t cols, int64_t ld) {
  cublasLtMatrixLayout_t l = nullptr;
  check_lt(cublasLtMatrixLayoutCreate(&l, t, rows, cols, ld), "cublasLtMatrixLayoutCreate");
  return Layout(l);
}

cudaDataType_t lt_type(DType t) {
  switch (t) {
    case DType::BF16: return CUDA_R_16BF;
    case DType::F16: return CUDA_R_16F;
    case DType::F8E4M3: return CUDA_R_8F_E4M3;
    default:
      fail(ErrorCode::InvalidInput,
           "CublasLtGemm: weight dtype " + std::to_string(int(t)) + " unsupported, expected BF16, F16 or F8E4M3 (F32 uses the fallback)");
  }
}

}  // namespace

CublasLtGemm::CublasLtGemm(size_t workspace_bytes) : workspace_(workspace_bytes) {
  check_lt(cublasLtCreate(&handle_), "cublasLtCreate");
}
CublasLtGemm::~CublasLtGemm() {
  if (handle_) cublasLtDestroy(handle_);
}

void CublasLtGemm::run(const GemmArgs& a, cudaStream_t s, float x_scale) {
  if (a.m == 0 || a.n == 0) return;
  const cudaDataType_t wt = lt_type(a.w.dtype);
  const bool fp8 = a.w.dtype == DType::F8E4M3;
  // X goes to the weight's type (cuBLASLt needs A and B of one type for these kernels).
  const size_t x_bytes = size_t(a.m) * size_t(a.k) * (fp8 ? 1 : 2);
  if (x_cast_.bytes() < x_bytes) x_cast_ = DeviceBuffer(x_bytes);
  launch_cast_from_f32(a.x, x_cast_.get(), a.w.dtype, fp8 ? x_scale : 1.0f, a.m * a.k, s);

  cublasLtMatmulDesc_t op_raw = nullptr;
  check_lt(cublasLtMatmulDescCreate(&op_raw, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  OpDesc op(op_raw);
  // Row-major Y[M,N] = X W^T is column-major Y^T[N,M] = W(col-major KxN)^T . X(col-major KxM): "TN",
  // which is also the only layout FP8 kernels accept.
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  check_lt(cublasLtMatmulDescSetAttribute(op.get(), CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "set TRANSA");
  check_lt(cublasLtMatmulDescSetAttribute(op.get(), CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "set TRANSB");
  Layout la = make_layout(wt, uint64_t(a.k), uint64_t(a.n), a.k);
  Layout lb = make_layout(wt, uint64_t(a.k), uint64_t(a.m), a.k);
  Layout lc = make_layout(CUDA_R_32F, uint64_t(a.n), uint64_t(a.m), a.n);

  cublasLtMatmulPreference_t pref_raw = nullptr;
  check_lt(cublasLtMatmulPreferenceCreate(&pref_raw), "cublasLtMatmulPreferenceCreate");
  Pref pref(pref_raw);
  const uint64_t ws = workspace_.bytes();
  check_lt(cublasLtMatmulPreferenceSetAttribute(pref.get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)),
           "set MAX_WORKSPACE_BYTES");
  cublasLtMatmulHeuristicResult_t heur{};
  int found = 0;
  check_lt(cublasLtMatmulAlgoGetHeuristic(handle_, op.get(), la.get(), lb.get(), lc.get(), lc.get(), pref.get(), 1, &heur,
                                          &found),
           "cublasLtMatmulAlgoGetHeuristic");
  require(found > 0, ErrorCode::BackendUnavailable,
          "cublasLtMatmulAlgoGetHeuristic: no algorithm for m=" + std::to_string(a.m) + " n=" + std::to_string(a.n) +
              " k=" + std::to_string(a.k));

  // Per-tensor scales fold into alpha: D = (sw * sx) * (Wq . Xq) + beta * C.
  const float alpha = fp8 ? a.w.scale * x_scale : 1.0f;
  const float beta = a.residual ? 1.0f : 0.0f;
  const void* c = a.residual ? static_cast<const void*>(a.residual) : static_cast<const void*>(a.y);
  check_lt(cublasLtMatmul(handle_, op.get(), &alpha, a.w.data, la.get(), x_cast_.get(), lb.get(), &beta, c, lc.get(),
                          a.y, lc.get(), &heur.algo, workspace_.get(), workspace_.bytes(), s),
           "cublasLtMatmul");
  if (a.bias) launch_add_bias_rows(a.y, a.bias, a.m, a.n, s);
}

}  // namespace alp::cuda
#endif
