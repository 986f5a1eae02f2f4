#include "backends/cuda/device_arena.hpp"

#include <algorithm>
#include <string>

#include "backends/cuda/resources.hpp"
#include "core/error.hpp"

namespace alp::cuda {

DeviceArena::ChunkSource DeviceArena::device_chunks() {
  return [](size_t bytes) -> std::shared_ptr<void> {
    auto buf = std::make_shared<DeviceBuffer>(bytes, "device arena chunk");
    return std::shared_ptr<void>(buf, buf->get());
  };
}

DeviceArena::DeviceArena(size_t initial_bytes, size_t chunk_bytes, ChunkSource source)
    : source_(std::move(source)), chunk_bytes_(std::max(chunk_bytes, kAlign)) {
  if (initial_bytes) chunks_.push_back(Chunk{source_(initial_bytes), initial_bytes, 0});
}

DeviceArena::Block DeviceArena::take(size_t chunk, size_t offset, size_t bytes) {
  Block b{static_cast<char*>(chunks_[chunk].mem.get()) + offset, bytes, epoch_, chunk, offset};
  in_use_ += bytes;
  return b;
}

DeviceArena::Block DeviceArena::allocate(size_t bytes) {
  const size_t need = std::max<size_t>((bytes + kAlign - 1) / kAlign * kAlign, kAlign);
  // Best fit among free ranges (few: they are merged); the rest of a larger range stays free.
  auto best = free_.end();
  for (auto it = free_.begin(); it != free_.end(); ++it)
    if (it->second >= need && (best == free_.end() || it->second < best->second)) best = it;
  if (best != free_.end()) {
    const auto [chunk, offset] = best->first;
    const size_t have = best->second;
    free_.erase(best);
    if (have > need) free_.emplace(std::make_pair(chunk, offset + need), have - need);
    return take(chunk, offset, need);
  }
  // Bump in the first chunk with room at its top.
  for (size_t c = 0; c < chunks_.size(); ++c)
    if (chunks_[c].bytes - chunks_[c].used >= need) {
      const size_t off = chunks_[c].used;
      chunks_[c].used += need;
      return take(c, off, need);
    }
  if (frozen_)
    fail(ErrorCode::Internal, "device arena: " + std::to_string(need) +
                                  " bytes requested during graph capture but the arena is exhausted (the warm-up pass "
                                  "must run the same work first)");
  const size_t size = std::max(need, chunk_bytes_);
  chunks_.push_back(Chunk{source_(size), size, need});
  return take(chunks_.size() - 1, 0, need);
}

void DeviceArena::release(const Block& b) noexcept {
  if (!b.ptr || b.epoch != epoch_ || b.chunk >= chunks_.size()) return;
  in_use_ -= b.bytes;
  if (in_use_ == 0) {
    rewind();
    return;
  }
  try {
    size_t off = b.offset, len = b.bytes;
    auto next = free_.lower_bound({b.chunk, off});
    if (next != free_.begin()) {
      auto prev = std::prev(next);
      if (prev->first.first == b.chunk && prev->first.second + prev->second == off) {
        off = prev->first.second;
        len += prev->second;
        free_.erase(prev);
      }
    }
    if (next != free_.end() && next->first.first == b.chunk && next->first.second == b.offset + b.bytes) {
      len += next->second;
      free_.erase(next);
    }
    Chunk& c = chunks_[b.chunk];
    if (off + len == c.used)
      c.used = off;  // the range reaches the bump top: give it back to the bump pointer
    else
      free_.emplace(std::make_pair(b.chunk, off), len);
  } catch (...) {
    // Out of host memory for the free list: the block is simply not reused until the next rewind.
  }
}

void DeviceArena::rewind() noexcept {
  for (Chunk& c : chunks_) c.used = 0;
  free_.clear();
  in_use_ = 0;
}

void DeviceArena::reset() noexcept {
  rewind();
  ++epoch_;
}

size_t DeviceArena::reserved_bytes() const {
  size_t b = 0;
  for (const Chunk& c : chunks_) b += c.bytes;
  return b;
}

}  // namespace alp::cuda
