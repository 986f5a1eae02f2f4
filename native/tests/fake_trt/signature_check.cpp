// Compile-time proof that the test-only fake_nvinfer_api.hpp declares the runner's subset of
// nvinfer1 as TensorRT does: this file compiles in the fake test binary (against the fake headers) and
// in scripts/trt-syntax-check.sh against the real 10.16 and 11.1 headers, so every member pointer
// type, virtual signature and enum value below is the same in both. (Overloaded members are picked by
// exact type: has<T> compiles only if that overload exists, noexcept included.)
#include <NvInferRuntime.h>

#include <type_traits>

namespace {

namespace nv = nvinfer1;

// Implicit conversion to exactly T: picks the overload of that type, and cannot add noexcept (a
// static_cast could).
// (It compares nothing: sanitizer builds reject comparing member pointers in a constant expression.)
template <class T>
constexpr bool has(std::type_identity_t<T>) {
  return true;
}

// IRuntime
static_assert(has<nv::ICudaEngine* (nv::IRuntime::*)(nv::IStreamReaderV2&)>(&nv::IRuntime::deserializeCudaEngine));
static_assert(std::has_virtual_destructor_v<nv::IRuntime>);

// ICudaEngine
using E = nv::ICudaEngine;
static_assert(has<nv::Dims (E::*)(char const*) const noexcept>(&E::getTensorShape));
static_assert(has<nv::DataType (E::*)(char const*) const noexcept>(&E::getTensorDataType));
static_assert(has<nv::IExecutionContext* (E::*)(nv::ExecutionContextAllocationStrategy) noexcept>(&E::createExecutionContext));
static_assert(has<nv::TensorIOMode (E::*)(char const*) const noexcept>(&E::getTensorIOMode));
static_assert(has<char const* (E::*)(char const*) const noexcept>(&E::getAliasedInputTensor));
static_assert(has<int64_t (E::*)(int32_t) const noexcept>(&E::getDeviceMemorySizeForProfileV2));
static_assert(has<int32_t (E::*)() const noexcept>(&E::getNbOptimizationProfiles));
static_assert(has<nv::Dims (E::*)(char const*, int32_t, nv::OptProfileSelector) const noexcept>(&E::getProfileShape));
static_assert(has<int32_t (E::*)() const noexcept>(&E::getNbIOTensors));
static_assert(has<char const* (E::*)(int32_t) const noexcept>(&E::getIOTensorName));
static_assert(std::has_virtual_destructor_v<E>);

// IExecutionContext
using C = nv::IExecutionContext;
static_assert(has<void (C::*)(void*, int64_t) noexcept>(&C::setDeviceMemoryV2));
static_assert(has<bool (C::*)(char const*, nv::Dims const&) noexcept>(&C::setInputShape));
static_assert(has<nv::Dims (C::*)(char const*) const noexcept>(&C::getTensorShape));
static_assert(has<bool (C::*)() const noexcept>(&C::allInputDimensionsSpecified));
static_assert(has<bool (C::*)(int32_t, cudaStream_t) noexcept>(&C::setOptimizationProfileAsync));
static_assert(has<bool (C::*)(char const*, void*) noexcept>(&C::setTensorAddress));
static_assert(has<bool (C::*)(cudaStream_t) noexcept>(&C::enqueueV3));
static_assert(std::has_virtual_destructor_v<C>);

// Interfaces the runner implements: the pure virtuals it overrides, with their exact types.
static_assert(std::is_same_v<decltype(&nv::ILogger::log), void (nv::ILogger::*)(nv::ILogger::Severity, nv::AsciiChar const*) noexcept>);
static_assert(std::is_same_v<decltype(&nv::IStreamReaderV2::read), int64_t (nv::IStreamReaderV2::*)(void*, int64_t, cudaStream_t) noexcept>);
static_assert(std::is_same_v<decltype(&nv::IStreamReaderV2::seek), bool (nv::IStreamReaderV2::*)(int64_t, nv::SeekPosition) noexcept>);
static_assert(std::is_base_of_v<nv::IVersionedInterface, nv::IStreamReaderV2>);

// Free functions.
static_assert(std::is_same_v<decltype(&getInferLibMajorVersion), int32_t (*)() noexcept>);
static_assert(std::is_same_v<decltype(&getInferLibMinorVersion), int32_t (*)() noexcept>);
static_assert(std::is_same_v<decltype(&getInferLibPatchVersion), int32_t (*)() noexcept>);
static_assert(std::is_same_v<decltype(&createInferRuntime_INTERNAL), void* (*)(void*, int32_t) noexcept>);
static_assert(std::is_same_v<decltype(nv::createInferRuntime(std::declval<nv::ILogger&>())), nv::IRuntime*>);

// Types and enum values.
static_assert(std::is_same_v<nv::Dims, nv::Dims64> && nv::Dims::MAX_DIMS == 8);
static_assert(std::is_same_v<decltype(nv::Dims::nbDims), int32_t> && std::is_same_v<decltype(nv::Dims::d), int64_t[8]>);
static_assert(std::is_same_v<nv::AsciiChar, char>);
static_assert(static_cast<int>(nv::DataType::kFLOAT) == 0 && static_cast<int>(nv::DataType::kHALF) == 1 &&
              static_cast<int>(nv::DataType::kINT8) == 2 && static_cast<int>(nv::DataType::kINT32) == 3 &&
              static_cast<int>(nv::DataType::kBOOL) == 4 && static_cast<int>(nv::DataType::kUINT8) == 5 &&
              static_cast<int>(nv::DataType::kFP8) == 6 && static_cast<int>(nv::DataType::kBF16) == 7 &&
              static_cast<int>(nv::DataType::kINT64) == 8 && static_cast<int>(nv::DataType::kINT4) == 9 &&
              static_cast<int>(nv::DataType::kFP4) == 10 && static_cast<int>(nv::DataType::kE8M0) == 11);
static_assert(static_cast<int>(nv::TensorIOMode::kNONE) == 0 && static_cast<int>(nv::TensorIOMode::kINPUT) == 1 &&
              static_cast<int>(nv::TensorIOMode::kOUTPUT) == 2);
static_assert(static_cast<int>(nv::OptProfileSelector::kMIN) == 0 && static_cast<int>(nv::OptProfileSelector::kOPT) == 1 &&
              static_cast<int>(nv::OptProfileSelector::kMAX) == 2);
static_assert(static_cast<int>(nv::ExecutionContextAllocationStrategy::kSTATIC) == 0 &&
              static_cast<int>(nv::ExecutionContextAllocationStrategy::kON_PROFILE_CHANGE) == 1 &&
              static_cast<int>(nv::ExecutionContextAllocationStrategy::kUSER_MANAGED) == 2);
static_assert(static_cast<int>(nv::SeekPosition::kSET) == 0 && static_cast<int>(nv::SeekPosition::kCUR) == 1 &&
              static_cast<int>(nv::SeekPosition::kEND) == 2);
static_assert(static_cast<int>(nv::ILogger::Severity::kINTERNAL_ERROR) == 0 && static_cast<int>(nv::ILogger::Severity::kERROR) == 1 &&
              static_cast<int>(nv::ILogger::Severity::kWARNING) == 2 && static_cast<int>(nv::ILogger::Severity::kINFO) == 3 &&
              static_cast<int>(nv::ILogger::Severity::kVERBOSE) == 4);

}  // namespace
