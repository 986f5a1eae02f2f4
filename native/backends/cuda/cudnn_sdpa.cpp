// cuDNN SDPA through cudnn-frontend (dynamic loading: nvidia_libs.cpp opened libcudnn.so.9).
#if ALPAMAYO_HAVE_CUDNN
#include "backends/cuda/cudnn_sdpa.hpp"

#include <cudnn_frontend.h>

#include <string>
#include <unordered_map>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/nvidia_libs.hpp"

namespace alp::cuda {

namespace fe = cudnn_frontend;

namespace {
enum Uid : int64_t { kQ = 1, kK, kV, kO, kSeqQ, kSeqKv };

std::vector<int64_t> vec(const std::array<int64_t, 4>& a) { return {a[0], a[1], a[2], a[3]}; }
}  // namespace

struct CudnnSdpa::Plan {
  std::shared_ptr<fe::graph::Graph> graph;
  int64_t workspace = 0;
};

CudnnSdpa::CudnnSdpa() {
  if (!cudnn_available()) fail(ErrorCode::BackendUnavailable, "cuDNN unavailable: " + cudnn_status().error);
  cudnnHandle_t h = nullptr;
  const cudnnStatus_t st = fe::detail::create_handle(&h);
  if (st != CUDNN_STATUS_SUCCESS)
    fail(ErrorCode::BackendUnavailable, std::string("cudnnCreate failed: ") + fe::detail::get_error_string(st));
  handle_ = h;
}

CudnnSdpa::~CudnnSdpa() {
  plans_.clear();
  if (handle_) fe::detail::destroy_handle(static_cast<cudnnHandle_t>(handle_));
}

CudnnSdpa::Key CudnnSdpa::key_of(const SdpaCall& c) {
  std::array<int64_t, 24> k{};
  for (int i = 0; i < 4; ++i) {
    k[i] = c.q.dims[i];
    k[4 + i] = c.q.strides[i];
    k[8 + i] = c.k.dims[i];
    k[12 + i] = c.k.strides[i];
    k[16 + i] = c.v.strides[i];
    k[20 + i] = c.o_strides[i];
  }
  return {k, c.causal ? 1 : 0, (c.seq_len_q || c.seq_len_kv) ? 1 : 0};
}

CudnnSdpa::Plan* CudnnSdpa::find(const SdpaCall& c) {
  auto* p = plans_.find(key_of(c));
  return p ? p->get() : nullptr;
}

bool CudnnSdpa::prepare(const SdpaCall& c, std::string* why) {
  if (find(c)) return true;
  if (auto f = failed_.find(key_of(c)); f != failed_.end()) {
    if (why) *why = f->second;
    return false;
  }
  require(c.k.dims == c.v.dims, ErrorCode::Internal, "cudnn sdpa: k and v dims differ");
  require(bool(c.seq_len_q) == bool(c.seq_len_kv), ErrorCode::Internal, "cudnn sdpa: padding needs both lengths");
  auto g = std::make_shared<fe::graph::Graph>();
  g->set_io_data_type(fe::DataType_t::BFLOAT16)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  auto tensor = [&](const char* name, int64_t uid, const std::array<int64_t, 4>& dims, const std::array<int64_t, 4>& strides) {
    return g->tensor(fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim(vec(dims)).set_stride(vec(strides)));
  };
  auto Q = tensor("Q", kQ, c.q.dims, c.q.strides);
  auto K = tensor("K", kK, c.k.dims, c.k.strides);
  auto V = tensor("V", kV, c.v.dims, c.v.strides);
  auto opts = fe::graph::SDPA_attributes().set_name("sdpa").set_generate_stats(false).set_attn_scale(c.scale);
  if (c.causal) opts.set_causal_mask_bottom_right(true);
  if (c.seq_len_q) {
    const int64_t b = c.q.dims[0];
    auto lens = [&](const char* name, int64_t uid) {
      return g->tensor(fe::graph::Tensor_attributes()
                           .set_name(name)
                           .set_uid(uid)
                           .set_dim({b, 1, 1, 1})
                           .set_stride({1, 1, 1, 1})
                           .set_data_type(fe::DataType_t::INT32));
    };
    opts.set_padding_mask(true).set_seq_len_q(lens("seq_q", kSeqQ)).set_seq_len_kv(lens("seq_kv", kSeqKv));
  }
  auto [O, stats] = g->sdpa(Q, K, V, opts);
  (void)stats;
  O->set_output(true).set_uid(kO).set_dim(vec(c.q.dims)).set_stride(vec(c.o_strides));

  const cudnnHandle_t h = static_cast<cudnnHandle_t>(handle_);
  auto step = [&](fe::error_t e, const char* what) {
    if (e.is_good()) return true;
    std::string msg = std::string("cudnn sdpa ") + what + ": " + e.get_message();
    if (why) *why = msg;
    failed_.emplace(key_of(c), std::move(msg));
    return false;
  };
  if (!step(g->validate(), "validate") || !step(g->build_operation_graph(h), "build_operation_graph") ||
      !step(g->create_execution_plans({fe::HeurMode_t::A}), "create_execution_plans") ||
      !step(g->check_support(h), "check_support") || !step(g->build_plans(h), "build_plans"))
    return false;
  auto plan = std::make_shared<Plan>();
  plan->graph = g;
  if (!step(g->get_workspace_size(plan->workspace), "get_workspace_size")) return false;
  plans_.put(key_of(c), plan);
  return true;
}

bool CudnnSdpa::reserve_workspace(const SdpaCall& c, bool may_grow) {
  Plan* p = find(c);
  require(p != nullptr, ErrorCode::Internal, "cudnn sdpa: reserve_workspace before prepare");
  if (size_t(p->workspace) <= workspace_.bytes()) return false;
  require(may_grow, ErrorCode::Internal,
          "cudnn sdpa: workspace of " + std::to_string(p->workspace) + " bytes needed during graph capture");
  workspace_ = DeviceBuffer();
  workspace_ = DeviceBuffer(size_t(p->workspace), "cuDNN SDPA workspace");
  return true;
}

void CudnnSdpa::run(const SdpaCall& c, cudaStream_t s) {
  Plan* p = find(c);
  require(p != nullptr, ErrorCode::Internal, "cudnn sdpa: run before prepare");
  require(size_t(p->workspace) <= workspace_.bytes(), ErrorCode::Internal, "cudnn sdpa: workspace not reserved");
  const cudnnHandle_t h = static_cast<cudnnHandle_t>(handle_);
  const cudnnStatus_t st = fe::detail::set_stream(h, s);
  if (st != CUDNN_STATUS_SUCCESS) fail(ErrorCode::Internal, std::string("cudnnSetStream: ") + fe::detail::get_error_string(st));
  std::unordered_map<int64_t, void*> pack = {{kQ, const_cast<void*>(c.q.data)},
                                             {kK, const_cast<void*>(c.k.data)},
                                             {kV, const_cast<void*>(c.v.data)},
                                             {kO, c.o}};
  if (c.seq_len_q) {
    pack[kSeqQ] = const_cast<int32_t*>(c.seq_len_q);
    pack[kSeqKv] = const_cast<int32_t*>(c.seq_len_kv);
  }
  fe::error_t e = p->graph->execute(h, pack, workspace_.get());
  if (!e.is_good()) fail(ErrorCode::Internal, "cudnn sdpa execute: " + e.get_message());
}

}  // namespace alp::cuda
#else
#include "backends/cuda/cudnn_sdpa.hpp"

namespace alp::cuda {
// Built without cudnn.h: no CudnnSdpa is ever made, but CudaOps's unique_ptr member still needs this.
CudnnSdpa::~CudnnSdpa() = default;
}  // namespace alp::cuda
#endif
