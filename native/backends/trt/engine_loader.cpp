#include "backends/trt/engine_loader.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "backends/cuda/cuda_check.hpp"
#include "core/error.hpp"
#include "core/file_sha256_cache.hpp"

namespace alp::trt {
namespace {

// The plan streamed into TensorRT (IStreamReaderV2): no host copy of a multi-GB file. TensorRT may
// ask for bytes at a device address; those go through a pinned chunk and cudaMemcpyAsync on its stream.
class PlanReader final : public nvinfer1::IStreamReaderV2 {
 public:
  PlanReader(const std::string& path, const std::string& engine_name) : f_(std::fopen(path.c_str(), "rb")) {
    if (!f_) fail(ErrorCode::InvalidEngine, "engine " + engine_name + ": cannot open " + path + ": " + std::strerror(errno));
  }
  int64_t read(void* dst, int64_t n, cudaStream_t stream) noexcept override {
    if (n <= 0) return 0;
    cudaPointerAttributes attr{};
    const bool device = cudaPointerGetAttributes(&attr, dst) == cudaSuccess && attr.type == cudaMemoryTypeDevice;
    (void)cudaGetLastError();  // an unregistered host pointer is not an error worth keeping
    if (!device) return static_cast<int64_t>(std::fread(dst, 1, static_cast<size_t>(n), f_.get()));
    try {
      if (!chunk_.get()) chunk_ = cuda::PinnedBuffer(kChunk, "TensorRT plan staging");
      int64_t done = 0;
      while (done < n) {
        const size_t want = static_cast<size_t>(std::min<int64_t>(n - done, kChunk));
        const size_t got = std::fread(chunk_.get(), 1, want, f_.get());
        if (got == 0) break;
        // The chunk is reused next iteration: wait for this copy first.
        if (cudaMemcpyAsync(static_cast<uint8_t*>(dst) + done, chunk_.get(), got, cudaMemcpyHostToDevice, stream) != cudaSuccess ||
            cudaStreamSynchronize(stream) != cudaSuccess)
          return -1;
        done += static_cast<int64_t>(got);
      }
      return done;
    } catch (...) {
      return -1;  // no exception may cross into TensorRT
    }
  }
  bool seek(int64_t offset, nvinfer1::SeekPosition where) noexcept override {
    const int w = where == nvinfer1::SeekPosition::kSET ? SEEK_SET : where == nvinfer1::SeekPosition::kCUR ? SEEK_CUR : SEEK_END;
    return fseeko(f_.get(), static_cast<off_t>(offset), w) == 0;
  }

 private:
  static constexpr int64_t kChunk = 8 << 20;
  struct Close {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Close> f_;
  cuda::PinnedBuffer chunk_;
};

void check_profiles(const nvinfer1::ICudaEngine& e, const engine::EngineSpec& spec) {
  const int32_t n = e.getNbOptimizationProfiles();
  if (n != static_cast<int32_t>(spec.profiles.size()))
    fail(ErrorCode::InvalidEngine, "engine " + spec.name + ": " + std::to_string(n) +
                                       " optimization profiles in the engine, manifest lists " +
                                       std::to_string(spec.profiles.size()));
  using nvinfer1::OptProfileSelector;
  for (int32_t p = 0; p < n; ++p) {
    for (const auto& [input, range] : spec.profiles[static_cast<size_t>(p)].inputs) {
      (void)range;
      const engine::ProfileRange actual{to_shape(e.getProfileShape(input.c_str(), p, OptProfileSelector::kMIN)),
                                        to_shape(e.getProfileShape(input.c_str(), p, OptProfileSelector::kOPT)),
                                        to_shape(e.getProfileShape(input.c_str(), p, OptProfileSelector::kMAX))};
      engine::check_profile_range(spec, p, input, actual);
    }
  }
}

}  // namespace

GpuInfo query_gpu(int device) {
  int count = 0;
  const cudaError_t st = cudaGetDeviceCount(&count);
  if (st != cudaSuccess || count == 0)
    fail(ErrorCode::BackendUnavailable, std::string("TensorRT backend needs a CUDA GPU: ") +
                                            (st != cudaSuccess ? cudaGetErrorString(st) : "no CUDA device found"));
  if (device < 0 || device >= count)
    fail(ErrorCode::BackendUnavailable,
         "CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) + " present)");
  cudaDeviceProp prop{};
  cuda::check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  return GpuInfo{device, {prop.major, prop.minor}, prop.name};
}

std::vector<engine::IoTensorSpec> engine_io(const nvinfer1::ICudaEngine& e) {
  std::vector<engine::IoTensorSpec> io;
  for (int32_t i = 0; i < e.getNbIOTensors(); ++i) {
    const char* name = e.getIOTensorName(i);
    engine::IoTensorSpec t;
    t.name = name;
    t.mode = e.getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT ? engine::TensorMode::Input
                                                                       : engine::TensorMode::Output;
    t.dtype = dtype_name(e.getTensorDataType(name));
    t.shape = to_shape(e.getTensorShape(name));
    io.push_back(std::move(t));
  }
  return io;
}

LoadedEngine load_engine(nvinfer1::IRuntime& runtime, Logger& logger, const engine::EngineSpec& spec,
                         const std::string& dir, const GpuInfo& gpu) {
  // Cheap checks first: a wrong GPU or library must not cost reading a multi-GB file.
  engine::check_built(spec);
  engine::check_gpu(spec, gpu.cc, gpu.name);
  engine::check_tensorrt_version(spec, getInferLibMajorVersion(), getInferLibMinorVersion());
  const std::string path = engine::engine_file_path(spec, dir);
  const FileDigest digest = cached_file_sha256(path);  // once per process and file version
  engine::check_checksum(spec, digest.sha256);

  LoadedEngine out;
  out.spec = &spec;
  logger.take_errors();
  PlanReader reader(path, spec.name);
  out.engine.reset(runtime.deserializeCudaEngine(reader));
  if (!out.engine) {
    const std::string why = logger.take_errors();
    fail(ErrorCode::InvalidEngine, "engine " + spec.name + ": TensorRT " + runtime_version_string() +
                                       " could not deserialize " + path + (why.empty() ? "" : ": " + why));
  }
  out.plan_bytes = digest.size;

  const std::vector<engine::IoTensorSpec> io = engine_io(*out.engine);
  engine::check_io_tensors(spec, io);
  check_profiles(*out.engine, spec);

  // One context per profile, without memory of its own (user-managed): the runner binds one
  // activation block to every context of every engine (bind_context_memory).
  for (int32_t p = 0; p < out.engine->getNbOptimizationProfiles(); ++p) {
    out.context_memory = std::max(out.context_memory, out.engine->getDeviceMemorySizeForProfileV2(p));
    TrtPtr<nvinfer1::IExecutionContext> c(
        out.engine->createExecutionContext(nvinfer1::ExecutionContextAllocationStrategy::kUSER_MANAGED));
    if (!c) {
      const std::string why = logger.take_errors();
      fail(ErrorCode::BackendUnavailable, "engine " + spec.name + ": cannot create an execution context (GPU memory?)" +
                                              (why.empty() ? "" : ": " + why));
    }
    out.contexts.push_back(std::move(c));
  }
  return out;
}

void bind_context_memory(std::span<LoadedEngine* const> engines, const cuda::DeviceBuffer& block) {
  for (LoadedEngine* e : engines) {
    if (static_cast<int64_t>(block.bytes()) < e->context_memory)
      fail(ErrorCode::Internal, "engine " + e->spec->name + ": context memory block of " + std::to_string(block.bytes()) +
                                    " bytes, the engine needs " + std::to_string(e->context_memory));
    for (auto& c : e->contexts) c->setDeviceMemoryV2(block.get(), static_cast<int64_t>(block.bytes()));
  }
}

}  // namespace alp::trt
