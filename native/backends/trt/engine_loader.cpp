#include "backends/trt/engine_loader.hpp"

#include <cuda_runtime_api.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "backends/cuda/cuda_check.hpp"
#include "core/error.hpp"
#include "core/sha256.hpp"

namespace alp::trt {
namespace {

std::vector<uint8_t> read_file(const std::string& path, const std::string& engine_name) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) fail(ErrorCode::InvalidEngine, "engine " + engine_name + ": cannot open " + path + ": " + std::strerror(errno));
  const std::streamoff size = f.tellg();
  if (size <= 0) fail(ErrorCode::InvalidEngine, "engine " + engine_name + ": " + path + " is empty");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  f.seekg(0);
  if (!f.read(reinterpret_cast<char*>(bytes.data()), size))
    fail(ErrorCode::InvalidEngine, "engine " + engine_name + ": short read of " + path);
  return bytes;
}

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
  std::vector<uint8_t> plan = read_file(path, spec.name);
  engine::check_checksum(spec, sha256_hex({reinterpret_cast<const char*>(plan.data()), plan.size()}));

  LoadedEngine out;
  out.spec = &spec;
  logger.take_errors();
  out.engine.reset(runtime.deserializeCudaEngine(plan.data(), plan.size()));
  if (!out.engine) {
    const std::string why = logger.take_errors();
    fail(ErrorCode::InvalidEngine, "engine " + spec.name + ": TensorRT " + runtime_version_string() +
                                       " could not deserialize " + path + (why.empty() ? "" : ": " + why));
  }
  out.plan_bytes = plan.size();
  plan = {};  // the engine keeps its own copy of the weights; release the host bytes now

  const std::vector<engine::IoTensorSpec> io = engine_io(*out.engine);
  engine::check_io_tensors(spec, io);
  check_profiles(*out.engine, spec);

  out.context.reset(out.engine->createExecutionContext());
  if (!out.context) {
    const std::string why = logger.take_errors();
    fail(ErrorCode::BackendUnavailable, "engine " + spec.name + ": cannot create an execution context (GPU memory?)" +
                                            (why.empty() ? "" : ": " + why));
  }
  return out;
}

}  // namespace alp::trt
