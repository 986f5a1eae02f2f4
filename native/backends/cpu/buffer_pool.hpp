#pragma once
// Recycles the CPU executor's activation buffers. The executor is eager and every op returns a new
// immutable value, so without recycling one plan mallocs and frees a few hundred buffers of a few
// dozen distinct sizes. glibc serves those from the worker thread's arena and, as the sizes interleave
// differently plan after plan, the freed pieces fragment: RSS crept up for thousands of plans
// (+18 % over a 10,000-plan soak) with no byte leaked. With the pool, each plan reuses the previous
// plan's buffers, so a steady-state plan asks for no activation memory at all. Buffers of 256 KiB and
// more are mapped pages (core/page_allocator.hpp), so they leave RSS when the pool goes.
//
// Sizes are rounded up to classes of 8 steps per power of two (at most 12.5 % slack), so the varying
// lengths of a decode (the KV prefix grows by one row per token) share a handful of classes. The pool
// keeps every buffer it was given back: what it holds is bounded by the largest number of
// simultaneously live buffers of each class in one plan, reported by pooled_bytes(), and released by
// trim() or with the pool.
#include <cstddef>
#include <memory>
#include <vector>

#include "core/page_allocator.hpp"

namespace alp::cpu {

class BufferPool {
 public:
  using Buffer = std::shared_ptr<HostFloats>;

  BufferPool();
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A zero-filled buffer of exactly n floats. It returns to the pool when its last reference goes,
  // from any thread, even after the pool itself is gone (then it is simply freed).
  Buffer acquire(size_t n);

  // Bytes held in free buffers (not counting buffers in use).
  size_t pooled_bytes() const;
  // Bytes of every buffer the pool has handed out and not yet seen freed by trim().
  size_t owned_bytes() const;
  // Frees every buffer not in use.
  void trim();

  // The capacity (floats) a request for n floats is served with.
  static size_t size_class(size_t n);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace alp::cpu
