// The CUDA backend's host-side rules that need no GPU: the device arena's bookkeeping (over host
// memory), the bounded graph cache, the saturating narrowing, and that NVIDIA's libraries are opened
// at run time (found where CMake found their headers). Built with the CUDA variant; runs without a GPU.
#if ALPAMAYO_HAVE_CUDA
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/device_arena.hpp"
#include "backends/cuda/lru_cache.hpp"
#include "backends/cuda/nvidia_libs.hpp"
#include "backends/cuda/saturate.hpp"
#include "core/error.hpp"
#include "tests/check.hpp"

using namespace alp;
using cuda::DeviceArena;

namespace {
// Host chunks with a counter of bytes obtained, so growth is visible.
struct HostChunks {
  size_t obtained = 0;
  DeviceArena::ChunkSource source() {
    return [this](size_t bytes) {
      obtained += bytes;
      return std::shared_ptr<void>(std::malloc(bytes), std::free);
    };
  }
};
}  // namespace

TEST(cuda_arena_merges_freed_neighbours_and_rolls_back_the_bump_top) {
  HostChunks h;
  DeviceArena a(1 << 20, 1 << 20, h.source());
  auto b1 = a.allocate(1000), b2 = a.allocate(1000), b3 = a.allocate(1000), keep = a.allocate(256);
  CHECK_EQ(b2.offset, b1.offset + 1024);
  a.release(b1);
  a.release(b3);
  CHECK_EQ(a.free_ranges(), size_t(2));
  a.release(b2);  // joins b1 and b3 into one range
  CHECK_EQ(a.free_ranges(), size_t(1));
  // One request the size of all three fits in the merged range (no fresh bump memory).
  auto big = a.allocate(3 * 1024);
  CHECK_EQ(big.offset, b1.offset);
  CHECK_EQ(a.free_ranges(), size_t(0));
  // Freeing the block at the bump top gives the memory back to the bump pointer (no free range).
  auto top = a.allocate(4096);
  a.release(top);
  CHECK_EQ(a.free_ranges(), size_t(0));
  auto again = a.allocate(4096);
  CHECK_EQ(again.offset, top.offset);
  a.release(again);
  a.release(big);
  a.release(keep);
  CHECK_EQ(a.in_use_bytes(), size_t(0));
  CHECK_EQ(h.obtained, size_t(1 << 20));
}

TEST(cuda_arena_mixed_phases_do_not_grow_it) {
  // The defect: free blocks were reused only for requests between half and all of their size and never
  // merged, so alternating phases with different sizes (vision rows, prefill rows, decode rows) kept
  // bumping into new chunks. Every phase ends with all its Values dropped: the arena rewinds.
  HostChunks h;
  DeviceArena a(4 << 20, 4 << 20, h.source());
  const size_t sizes[] = {3 << 20, 1000, 700 << 10, 64, 2 << 20, 300 << 10, 5000};
  for (int round = 0; round < 200; ++round) {
    std::vector<DeviceArena::Block> live;
    for (size_t i = 0; i < 3; ++i) live.push_back(a.allocate(sizes[(round + i) % 7] / (1 + i)));
    // Out-of-order release inside a phase.
    a.release(live[1]);
    live.push_back(a.allocate(sizes[(round * 3) % 7] / 4));
    for (size_t i = 0; i < live.size(); ++i)
      if (i != 1) a.release(live[i]);
    CHECK_EQ(a.in_use_bytes(), size_t(0));
  }
  CHECK(a.reserved_bytes() <= size_t(8) << 20);
  CHECK_EQ(h.obtained, a.reserved_bytes());
}

TEST(cuda_arena_frozen_never_grows_and_old_epochs_are_ignored) {
  HostChunks h;
  DeviceArena a(1 << 16, 1 << 16, h.source());
  auto b = a.allocate(1 << 15);
  a.set_frozen(true);
  CHECK_THROWS_CODE(a.allocate(1 << 16), ErrorCode::Internal, "during graph capture");
  a.set_frozen(false);
  a.reset();
  const uint64_t e = a.epoch();
  a.release(b);  // a block of the old epoch: ignored, no double accounting
  CHECK_EQ(a.in_use_bytes(), size_t(0));
  auto c = a.allocate(100);
  CHECK_EQ(c.epoch, e);
  CHECK_EQ(h.obtained, size_t(1 << 16));
}

TEST(cuda_graph_cache_is_bounded_lru) {
  cuda::LruCache<int, std::shared_ptr<int>> c(3);
  for (int k = 0; k < 100; ++k) c.put(k, std::make_shared<int>(k));  // prefix offsets that keep changing
  CHECK_EQ(c.size(), size_t(3));
  CHECK_EQ(c.evictions(), size_t(97));
  CHECK(c.find(97) && c.find(98) && c.find(99));
  CHECK(c.find(96) == nullptr);
  CHECK(c.find(97));  // 97 now most recent: 98 is the next to go
  c.put(200, std::make_shared<int>(200));
  CHECK(c.find(98) == nullptr);
  CHECK(c.find(97) && **c.find(97) == 97);
  c.erase(97);
  CHECK_EQ(c.size(), size_t(2));
  c.clear();
  CHECK_EQ(c.size(), size_t(0));
}

TEST(cuda_fp16_narrowing_saturates) {
  // The cuBLASLt path casts fp32 activations to fp16 with this rule (gemm_fallback.cu): an unclamped
  // cast turned 70000 into inf, and the GEMM row into inf/NaN.
  CHECK_EQ(cuda::saturate_to(70000.f, cuda::kF16Max), 65504.f);
  CHECK_EQ(cuda::saturate_to(-1e30f, cuda::kF16Max), -65504.f);
  CHECK_EQ(cuda::saturate_to(std::numeric_limits<float>::infinity(), cuda::kF16Max), 65504.f);
  CHECK_EQ(cuda::saturate_to(123.5f, cuda::kF16Max), 123.5f);
  CHECK(std::isnan(cuda::saturate_to(std::nanf(""), cuda::kF16Max)));
  CHECK_EQ(cuda::fp8_scale_of_amax(448.f * 3), 3.f);
  CHECK_EQ(cuda::fp8_scale_of_amax(0.f), 1.f);
}

TEST(cuda_nvidia_libraries_open_at_run_time) {
  // Compiled in where CMake found the headers (CI installs the nvidia-cublas / nvidia-cudnn-cu13
  // wheels); then the library must open here too, GPU or not (dlopen needs no driver).
#if ALPAMAYO_HAVE_CUBLASLT
  const cuda::LibraryStatus lt = cuda::cublaslt_status();
  CHECK(lt.loaded);
  if (!lt.loaded) std::cout << "    cuBLASLt: " << lt.error << "\n";
  CHECK(lt.version.rfind("13.", 0) == 0);
  CHECK(cuda::cublaslt_api() != nullptr);
#else
  CHECK(!cuda::cublaslt_status().loaded);
  CHECK(cuda::cublaslt_status().error.find("not compiled in") != std::string::npos);
#endif
#if ALPAMAYO_HAVE_CUDNN
  const cuda::LibraryStatus dnn = cuda::cudnn_status();
  CHECK(dnn.loaded);
  if (!dnn.loaded) std::cout << "    cuDNN: " << dnn.error << "\n";
  CHECK(dnn.version.rfind("9.", 0) == 0);
#else
  CHECK(!cuda::cudnn_available());
#endif
  const std::string summary = cuda::nvidia_library_summary(true, true);
  CHECK(!summary.empty());
  std::cout << "    " << summary << "\n";
}
#endif
