#include "backends/cpu/buffer_pool.hpp"

#include <bit>
#include <map>
#include <mutex>

namespace alp::cpu {

// Shared with every outstanding buffer's deleter, so a buffer may outlive the BufferPool object.
struct BufferPool::State {
  mutable std::mutex mu;
  std::map<size_t, std::vector<std::unique_ptr<HostFloats>>> free;  // capacity -> buffers
  size_t free_floats = 0;
  size_t owned_floats = 0;

  // Takes `buf` only when the push succeeds; on an allocation failure the caller still owns it.
  void give_back(std::unique_ptr<HostFloats>& buf) {
    const size_t cap = buf->capacity();
    buf->clear();  // keeps the capacity
    std::lock_guard<std::mutex> lock(mu);
    free[cap].push_back(std::move(buf));
    free_floats += cap;
  }
};

BufferPool::BufferPool() : state_(std::make_shared<State>()) {}
BufferPool::~BufferPool() = default;

size_t BufferPool::size_class(size_t n) {
  if (n <= 16) return 16;
  // Keep the top 4 significant bits of n - 1 and round up: 8 classes per power of two.
  const int shift = std::bit_width(n - 1) - 4;
  return (((n - 1) >> shift) + 1) << shift;
}

BufferPool::Buffer BufferPool::acquire(size_t n) {
  const size_t cap = size_class(n);
  std::unique_ptr<HostFloats> buf;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->free.find(cap);
    if (it != state_->free.end() && !it->second.empty()) {
      buf = std::move(it->second.back());
      it->second.pop_back();
      state_->free_floats -= cap;
    } else {
      state_->owned_floats += cap;
    }
  }
  if (!buf) {
    buf = std::make_unique<HostFloats>();
    buf->reserve(cap);
  }
  buf->resize(n, 0.f);
  // The deleter runs in destructors and must not throw: if the pool cannot grow its free list, the
  // buffer is freed instead of recycled.
  return Buffer(buf.release(), [state = state_](HostFloats* p) noexcept {
    std::unique_ptr<HostFloats> owned(p);
    try {
      state->give_back(owned);
    } catch (...) {
    }
  });
}

size_t BufferPool::pooled_bytes() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->free_floats * sizeof(float);
}

size_t BufferPool::owned_bytes() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->owned_floats * sizeof(float);
}

void BufferPool::trim() {
  std::map<size_t, std::vector<std::unique_ptr<HostFloats>>> drop;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    drop.swap(state_->free);
    state_->owned_floats -= state_->free_floats;
    state_->free_floats = 0;
  }
}

}  // namespace alp::cpu
