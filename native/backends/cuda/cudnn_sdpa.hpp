#pragma once
// Fused scaled-dot-product attention from cuDNN (its flash-attention SDPA engines through the
// vendored cudnn-frontend graph API). Why cuDNN rather than FlashInfer: it ships as the
// nvidia-cudnn-cu13 wheel that CI already installs and that the lent H200 image carries, it is opened
// at run time like cuBLASLt (the addon keeps loading without it), it covers every attention here with
// one API (GQA, causal with bottom-right alignment for a query block at the end of the cache, padding
// masks with device-side sequence lengths so a cache of fixed capacity is one graph, arbitrary strides
// so the head-major KV cache and token-major Q/O are read in place), and it has Hopper and Blackwell
// kernels maintained by NVIDIA. FlashInfer would mean compiling its templates for every head size
// into the addon and owning their build.
//
// bf16 in, bf16 out, fp32 softmax. Tensors are 4-D [batch, heads, seq, head_dim] with explicit element
// strides. One cuDNN graph per shape/layout/mask key, built on first use and kept (an LRU of
// kMaxPlans); the workspace is fixed while graphs may replay (reserve() outside capture).
#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <memory>
#include <map>
#include <string>
#include <tuple>

#include "backends/cuda/lru_cache.hpp"
#include "backends/cuda/resources.hpp"

namespace alp::cuda {

struct SdpaTensor {
  const void* data = nullptr;               // bf16
  std::array<int64_t, 4> dims{};            // batch, heads, seq, head_dim
  std::array<int64_t, 4> strides{};         // in elements
};

struct SdpaCall {
  SdpaTensor q, k, v;
  void* o = nullptr;                        // bf16, dims of q (heads of q), strides o_strides
  std::array<int64_t, 4> o_strides{};
  float scale = 1.0f;
  bool causal = false;  // bottom-right: query i of n sees keys [0, kv_len - n + i], kv_len = actual length
  // Padding: actual lengths per batch entry as device int32 [batch] (null: the full dims are valid).
  const int32_t* seq_len_q = nullptr;
  const int32_t* seq_len_kv = nullptr;
};

class CudnnSdpa {
 public:
  static constexpr size_t kMaxPlans = 64;
  // Throws BackendUnavailable when cuDNN cannot be opened or has no handle for this device.
  CudnnSdpa();
  ~CudnnSdpa();
  CudnnSdpa(const CudnnSdpa&) = delete;
  CudnnSdpa& operator=(const CudnnSdpa&) = delete;

  // Builds (or finds) the graph for `c`'s key. False with `why` when cuDNN supports no engine for it
  // (the caller then runs the built-in kernels). Never during capture: call it in the warm-up.
  // A key that failed once is remembered and fails at once.
  bool prepare(const SdpaCall& c, std::string* why = nullptr);
  bool prepared(const SdpaCall& c) { return find(c) != nullptr; }
  // Workspace the prepared graph needs beyond what is held: grows it only when `may_grow` (outside
  // capture); returns true when it reallocated (captured graphs must then be dropped).
  bool reserve_workspace(const SdpaCall& c, bool may_grow);
  // Enqueues the attention on `s`. Throws Internal when not prepared or the workspace is short.
  void run(const SdpaCall& c, cudaStream_t s);

  size_t plans() const { return plans_.size(); }

 private:
  struct Plan;
  using Key = std::tuple<std::array<int64_t, 24>, int, int>;  // dims, strides of q, k|v, o; causal; padded
  static Key key_of(const SdpaCall& c);
  Plan* find(const SdpaCall& c);
  void* handle_ = nullptr;  // cudnnHandle_t
  LruCache<Key, std::shared_ptr<Plan>> plans_{kMaxPlans};
  std::map<Key, std::string> failed_;
  DeviceBuffer workspace_;
};

}  // namespace alp::cuda
