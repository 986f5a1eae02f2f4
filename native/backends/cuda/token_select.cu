#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/token_select_kernel.hpp"

namespace alp::cuda {
namespace {

constexpr int kThreads = model::rule::kSelectThreads;
constexpr int kSplits = model::rule::kSearchSplits;

// model::select_lane's Block on the device: one CUDA block of kThreads, reductions through shared memory with the
// tree HostBlock (model/sampling.cpp) replays on the host. Every thread calls every reduction (the
// control flow of select_lane depends only on reduced values), so the barriers are uniform.
struct DeviceBlock {
  double* slots;  // kSplits x kThreads 8-byte slots of shared memory

  ALP_HD int threads() const { return kThreads; }

  template <class T, class Partial, class Op>
  ALP_HD T reduce(Partial partial, Op op) {
#if defined(__CUDA_ARCH__)
    static_assert(sizeof(T) <= sizeof(unsigned long long), "one slot per thread");
    T* a = reinterpret_cast<T*>(slots);
    const int t = static_cast<int>(threadIdx.x);
    a[t] = partial(t);
    __syncthreads();
    for (int off = kThreads / 2; off > 0; off >>= 1) {
      if (t < off) a[t] = op(a[t], a[t + off]);
      __syncthreads();
    }
    const T r = a[0];
    __syncthreads();  // the slots are reused by the next reduction
    return r;
#else
    (void)partial;
    (void)op;
    return T{};
#endif
  }

  // kSplits sums at once: slot row j is reduce's tree over the threads' acc[j]. Within a level the
  // slots written (t < off) and read (t + off) are disjoint.
  template <class Partial>
  ALP_HD void sum_n(Partial partial, double* out) {
#if defined(__CUDA_ARCH__)
    const int t = static_cast<int>(threadIdx.x);
    double acc[kSplits];
    partial(t, acc);
    for (int j = 0; j < kSplits; ++j) slots[j * kThreads + t] = acc[j];
    __syncthreads();
    for (int off = kThreads / 2; off > 0; off >>= 1) {
      for (int idx = t; idx < off * kSplits; idx += kThreads) {
        const int j = idx / off, u = idx - j * off;
        slots[j * kThreads + u] = slots[j * kThreads + u] + slots[j * kThreads + u + off];
      }
      __syncthreads();
    }
    for (int j = 0; j < kSplits; ++j) out[j] = slots[j * kThreads];
    __syncthreads();
#else
    (void)partial;
    (void)out;
#endif
  }

  // Exclusive prefix sums of partial(t) in thread order (one thread adds them, as HostBlock does),
  // then the minimum of finish(t, prefix).
  template <class Partial, class Finish>
  ALP_HD int64_t scan_min(Partial partial, Finish finish) {
#if defined(__CUDA_ARCH__)
    double* a = slots;
    const int t = static_cast<int>(threadIdx.x);
    a[t] = partial(t);
    __syncthreads();
    if (t == 0) {
      double run = 0;
      for (int i = 0; i < kThreads; ++i) {
        const double v = a[i];
        a[i] = run;
        run += v;
      }
    }
    __syncthreads();
    const double prefix = a[t];
    __syncthreads();
    const int64_t mine = finish(t, prefix);
    return reduce<int64_t>([&](int) { return mine; }, model::rule::MinI64{});
#else
    (void)partial;
    (void)finish;
    return 0;
#endif
  }
};

__global__ void __launch_bounds__(kThreads) select_tokens_kernel(const float* logits, int64_t row_stride, int64_t vocab,
                                                                 const SelectLaneInput* in, model::SamplingParams p,
                                                                 double* scratch, model::LaneSelection* out) {
  __shared__ double slots[kSplits * kThreads];
  DeviceBlock b{slots};
  const SelectLaneInput lane = in[blockIdx.x];
  const model::LaneSelection r =
      model::select_lane(b, logits + lane.row * row_stride, vocab, lane.u, p, scratch + int64_t(blockIdx.x) * vocab);
  if (threadIdx.x == 0) out[blockIdx.x] = r;
}

}  // namespace

void launch_select_tokens(const float* logits, int64_t row_stride, int64_t vocab, const SelectLaneInput* in, int lanes,
                          const model::SamplingParams& p, double* scratch, model::LaneSelection* out, cudaStream_t s) {
  if (lanes <= 0) return;
  select_tokens_kernel<<<lanes, kThreads, 0, s>>>(logits, row_stride, vocab, in, p, scratch, out);
  check_launch("select_tokens_kernel");
}

}  // namespace alp::cuda
