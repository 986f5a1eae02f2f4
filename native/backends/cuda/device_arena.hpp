#pragma once
// Stream-ordered device memory for activations. Chunks are allocated once and kept: after the first
// pass over a given workload (the warm-up) the same requests are served without a cudaMalloc.
// Within a chunk, memory is handed out by a bump pointer; a released block goes to a free list kept
// in address order, where it is merged with free neighbours of the same chunk, and a free range that
// reaches the bump top rolls the bump pointer back. When the last live block is released the whole
// arena rewinds (every chunk empty), so the mixed sizes of one phase (vision, prefill, decode) cannot
// fragment the next. Reusing a block at once is safe because every kernel runs on the executor's single
// stream: a later kernel writing a reused block is ordered after every earlier kernel that read it.
// reset() drops every block at once and starts a new epoch; a block from an older epoch is invalid
// (the owner checks epoch() before use).
// While `frozen` (during CUDA graph capture) growing is an error instead of a cudaMalloc, since the
// capture must not allocate and its addresses must stay valid for every replay.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

namespace alp::cuda {

class DeviceArena {
 public:
  // Allocates one chunk of memory (owning pointer). Default: cudaMalloc through DeviceBuffer. Tests
  // pass a host allocator: the bookkeeping is the same.
  using ChunkSource = std::function<std::shared_ptr<void>(size_t bytes)>;
  static ChunkSource device_chunks();

  explicit DeviceArena(size_t initial_bytes, size_t chunk_bytes = size_t(64) << 20, ChunkSource source = device_chunks());

  struct Block {
    void* ptr = nullptr;
    size_t bytes = 0;
    uint64_t epoch = 0;
    size_t chunk = 0, offset = 0;
  };
  Block allocate(size_t bytes);
  void release(const Block& b) noexcept;  // ignores blocks of an older epoch
  void reset() noexcept;

  uint64_t epoch() const { return epoch_; }
  void set_frozen(bool f) { frozen_ = f; }
  bool frozen() const { return frozen_; }
  size_t reserved_bytes() const;  // memory held in chunks
  size_t in_use_bytes() const { return in_use_; }
  size_t chunk_count() const { return chunks_.size(); }
  size_t free_ranges() const { return free_.size(); }

  static constexpr size_t kAlign = 256;

 private:
  struct Chunk {
    std::shared_ptr<void> mem;
    size_t bytes = 0;
    size_t used = 0;  // bump top
  };
  void rewind() noexcept;
  Block take(size_t chunk, size_t offset, size_t bytes);

  ChunkSource source_;
  std::vector<Chunk> chunks_;
  size_t chunk_bytes_;
  std::map<std::pair<size_t, size_t>, size_t> free_;  // (chunk, offset) -> bytes, merged
  uint64_t epoch_ = 1;
  size_t in_use_ = 0;  // bytes handed out and not released; 0 rewinds the arena
  bool frozen_ = false;
};

}  // namespace alp::cuda
