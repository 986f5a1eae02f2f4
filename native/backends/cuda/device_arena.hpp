#pragma once
// Stream-ordered device memory for activations. A bump allocator over chunks that are allocated once
// and kept: after the first pass over a given workload (the warm-up), the same sequence of requests
// is served without a cudaMalloc. Blocks freed by dropped Values go to a best-fit free list and are
// reused at once; that is safe because every kernel runs on the executor's single stream, so a later
// kernel writing a reused block is ordered after every earlier kernel that read it.
// reset() drops every block at once (between phases) and starts a new epoch; a block from an older
// epoch is invalid (the owner checks epoch() before use).
// While `frozen` (during CUDA graph capture) growing is an error instead of a cudaMalloc, since the
// capture must not allocate and its addresses must stay valid for every replay.
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "backends/cuda/resources.hpp"

namespace alp::cuda {

class DeviceArena {
 public:
  explicit DeviceArena(size_t initial_bytes, size_t chunk_bytes = size_t(64) << 20);

  struct Block {
    void* ptr = nullptr;
    size_t bytes = 0;
    uint64_t epoch = 0;
  };
  Block allocate(size_t bytes);
  void release(const Block& b) noexcept;  // ignores blocks of an older epoch
  void reset() noexcept;

  uint64_t epoch() const { return epoch_; }
  void set_frozen(bool f) { frozen_ = f; }
  bool frozen() const { return frozen_; }
  size_t reserved_bytes() const;  // device memory held

  static constexpr size_t kAlign = 256;

 private:
  struct Chunk {
    DeviceBuffer mem;
    size_t used = 0;
  };
  std::vector<Chunk> chunks_;
  size_t current_ = 0;  // chunk the bump pointer is in
  size_t chunk_bytes_;
  std::multimap<size_t, void*> free_;  // size -> block
  uint64_t epoch_ = 1;
  bool frozen_ = false;
};

}  // namespace alp::cuda
