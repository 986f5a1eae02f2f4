#include "pipeline/backend_factory.hpp"

#include "backends/cpu/cpu_ops.hpp"
#include "backends/registry.hpp"
#include "core/error.hpp"
#include "model/ops_executor.hpp"
#include "model/param_specs.hpp"
#if ALPAMAYO_HAVE_CUDA
#include "backends/cuda/cuda_denoise.hpp"
#include "backends/cuda/cuda_ops.hpp"
#include "backends/cuda/frame_staging.hpp"
#include "backends/cuda/token_select.hpp"
#endif
#if ALPAMAYO_HAVE_TENSORRT
#include "backends/trt/trt_executor.hpp"
#include "core/engine_manifest.hpp"
#endif

namespace alp::pipeline {

namespace {

std::unique_ptr<model::Executor> make_cpu(const LoadOptions& o, std::shared_ptr<const Checkpoint> ckpt,
                                   const model::ModelConfig& cfg) {
  cpu::CpuOptions co;
  co.precision = parse_precision(o.precision);
  co.threads = o.threads;
  // Weights are converted on first use, during a plan: read them with pread, not through the mapping,
  // so a shard truncated after load fails that plan with INVALID_CHECKPOINT instead of SIGBUS.
  auto ops = std::make_unique<cpu::CpuOps>([ckpt](std::string_view n) { return ckpt->read_tensor(n); }, co);
  cpu::CpuOps* raw = ops.get();
  model::ExecutorInfo info{"cpu", std::string(precision_name(co.precision)),
                    "cpu (" + std::to_string(raw->threads()) + " threads)"};
  model::OpsHooks hooks;
  hooks.weight_bytes = [raw] { return raw->weight_bytes(); };
  hooks.cache_bytes = [raw] { return raw->cache_bytes(); };
  std::unique_ptr<model::Ops> run = std::move(ops);
  if (o.wrap_ops) run = o.wrap_ops(std::move(run));
  return std::make_unique<model::OpsExecutor>(std::move(run), cfg, info, std::move(hooks));
}

#if ALPAMAYO_HAVE_CUDA
std::unique_ptr<model::Executor> make_cuda(const LoadOptions& o, std::shared_ptr<const Checkpoint> ckpt,
                                    const model::ModelConfig& cfg) {
  std::unique_ptr<cuda::CudaOps> ops = cuda::make_cuda_ops(ckpt, o.precision, o.device);
  cuda::CudaOps* raw = ops.get();
  raw->preload(model::parameter_specs(cfg));  // weights uploaded once, at load
  model::ExecutorInfo info{"cuda", o.precision, "cuda:" + std::to_string(o.device) + " (" + raw->libraries() + ")"};
  model::OpsHooks hooks;
  hooks.weight_bytes = [raw] { return raw->weight_bytes(); };
  hooks.cache_bytes = [raw] { return raw->arena_reserved_bytes(); };
  hooks.keep_vision = [raw](const model::VisionOutput& v) {
    model::VisionOutput kept{raw->persist(v.embeds), {}};
    for (const auto& d : v.deepstack) kept.deepstack.push_back(raw->persist(d));
    return kept;
  };
  // Declared after the ops in OpsExecutor, the hooks (and this denoiser) go first.
  hooks.denoise = [d = std::make_shared<cuda::CudaDenoiser>(*raw)](const model::ModelConfig& c, std::span<const float> noise,
                                                                  std::span<const model::ExpertLane> lanes) {
    return d->denoise(c, noise, lanes);
  };
  // Frames -> patch rows on the GPU (pinned staging, one launch sequence for all 16 frames), the
  // processor's normalisation; bit-identical to the host path it replaces.
  hooks.preprocess = [raw, cfg, staging = std::shared_ptr<cuda::FrameStaging>()](const model::FrameBatch& f) mutable {
    cuda::PreprocessConfig pc;
    pc.patch = static_cast<int>(cfg.vision.patch_size);
    pc.temporal = static_cast<int>(cfg.vision.temporal_patch_size);
    pc.merge = static_cast<int>(cfg.vision.spatial_merge_size);
    for (int c = 0; c < 3; ++c) pc.mean[c] = f.mean[c], pc.std[c] = f.stdev[c];
    if (!staging) staging = std::make_shared<cuda::FrameStaging>(pc);
    return staging->run(*raw, f.rgb, f.height, f.width, f.out_height, f.out_width);
  };
  // Tokens chosen on the device: a decode step copies back K ids, not K x vocab logits.
  hooks.select = [sel = std::make_shared<cuda::DeviceTokenSelector>(*raw)](const model::Value& logits,
                                                                          std::span<model::TokenSampler* const> samplers,
                                                                          const model::SamplingParams& p) {
    return sel->select(logits, samplers, p);
  };
  hooks.keep_logits = [raw](const model::Value& v) { return raw->persist(v); };
  return std::make_unique<model::OpsExecutor>(std::move(ops), cfg, info, std::move(hooks));
}
#endif

}  // namespace

std::unique_ptr<model::Executor> make_executor(const LoadOptions& o, std::shared_ptr<const Checkpoint> ckpt,
                                        const model::ModelConfig& cfg) {
  if (o.backend == "cpu") return make_cpu(o, std::move(ckpt), cfg);
  if (o.wrap_ops) fail(ErrorCode::InvalidInput, "backend '" + o.backend + "': only the cpu backend can be wrapped (calibration)");
  const BackendReport report = probe_backends();
  if (o.backend == "cuda") {
    if (!report.cuda_compiled)
      fail(ErrorCode::BackendUnavailable, "backend 'cuda' requested but this binary was built without CUDA (rebuild with nvcc on PATH)");
    if (report.cuda_devices == 0)
      fail(ErrorCode::BackendUnavailable, "backend 'cuda' requested but no CUDA device is usable: " + report.cuda_error);
#if ALPAMAYO_HAVE_CUDA
    return make_cuda(o, std::move(ckpt), cfg);
#endif
  }
  if (o.backend == "tensorrt") {
#if ALPAMAYO_HAVE_TENSORRT
    if (o.engines.empty()) fail(ErrorCode::InvalidInput, "engines: backend 'tensorrt' needs an engines directory");
    trt::TrtExecutorOptions to;
    to.engine_dir = o.engines;
    to.device = o.device;
    to.config = cfg;
    // The exporter stamps the canonical-JSON hash (key order and whitespace do not matter).
    to.model_config_sha256 = engine::config_sha256(ckpt->config());
    return std::make_unique<trt::TrtExecutor>(std::move(to));
#else
    fail(ErrorCode::BackendUnavailable,
         "backend 'tensorrt' requested but this binary was built without TensorRT (set TENSORRT_ROOT and rebuild)");
#endif
  }
  fail(ErrorCode::InvalidInput, "backend: expected 'cpu', 'cuda' or 'tensorrt', got '" + o.backend + "'");
}

}  // namespace alp::pipeline
