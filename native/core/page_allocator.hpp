#pragma once
// std::allocator replacement for large, long-lived host tensors (CPU weights in fp32, activation pools,
// KV caches): blocks of 256 KiB and more are mapped straight from the OS and unmapped when freed.
// glibc serves a planner's worker thread from a per-thread arena whose heaps it only shrinks from the
// top, past a trim threshold that its own heuristics raise to the heap size after the first large free:
// four small planners dropped one after another left ~520 MB free inside the arenas (15 MB in use) and
// in RSS. Pages mapped here go back the moment their owner frees them.
#include <cstddef>
#include <new>
#include <vector>

namespace alp {

void* map_pages(size_t bytes);                // throws std::bad_alloc
void unmap_pages(void* p, size_t bytes) noexcept;
inline constexpr size_t kPageAllocMin = size_t{256} << 10;

template <class T>
struct PageAllocator {
  using value_type = T;
  PageAllocator() noexcept = default;
  template <class U>
  PageAllocator(const PageAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    const size_t bytes = n * sizeof(T);
    if (bytes >= kPageAllocMin) return static_cast<T*>(map_pages(bytes));
    return static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T)}));
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kPageAllocMin)
      unmap_pages(p, bytes);
    else
      ::operator delete(p, bytes, std::align_val_t{alignof(T)});
  }
  template <class U>
  bool operator==(const PageAllocator<U>&) const noexcept { return true; }
};

// Float storage of the CPU executor (see above for why it bypasses malloc when large).
using HostFloats = std::vector<float, PageAllocator<float>>;

}  // namespace alp
