#include "backends/cuda/device_arena.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"

namespace alp::cuda {

DeviceArena::DeviceArena(size_t initial_bytes, size_t chunk_bytes) : chunk_bytes_(std::max(chunk_bytes, kAlign)) {
  if (initial_bytes) chunks_.push_back(Chunk{DeviceBuffer(initial_bytes), 0});
}

DeviceArena::Block DeviceArena::allocate(size_t bytes) {
  const size_t need = std::max<size_t>((bytes + kAlign - 1) / kAlign * kAlign, kAlign);
  // Best fit among freed blocks; a block up to twice the request is accepted whole to limit splitting
  // bookkeeping (the surplus returns with it).
  if (auto it = free_.lower_bound(need); it != free_.end() && it->first <= 2 * need) {
    Block b{it->second, it->first, epoch_};
    free_.erase(it);
    return b;
  }
  while (current_ < chunks_.size() && chunks_[current_].mem.bytes() - chunks_[current_].used < need) ++current_;
  if (current_ == chunks_.size()) {
    if (frozen_)
      fail(ErrorCode::Internal, "device arena: " + std::to_string(need) +
                                    " bytes requested during graph capture but the arena is exhausted (the warm-up pass "
                                    "must run the same work first)");
    chunks_.push_back(Chunk{DeviceBuffer(std::max(need, chunk_bytes_)), 0});
  }
  Chunk& c = chunks_[current_];
  Block b{static_cast<char*>(c.mem.get()) + c.used, need, epoch_};
  c.used += need;
  return b;
}

void DeviceArena::release(const Block& b) noexcept {
  if (!b.ptr || b.epoch != epoch_) return;
  try {
    free_.emplace(b.bytes, b.ptr);
  } catch (...) {
    // Out of host memory for the free list: the block is simply not reused until reset().
  }
}

void DeviceArena::reset() noexcept {
  for (Chunk& c : chunks_) c.used = 0;
  current_ = 0;
  free_.clear();
  ++epoch_;
}

size_t DeviceArena::reserved_bytes() const {
  size_t b = 0;
  for (const Chunk& c : chunks_) b += c.mem.bytes();
  return b;
}

}  // namespace alp::cuda
