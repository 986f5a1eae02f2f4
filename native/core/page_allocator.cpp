#include "core/page_allocator.hpp"

#include <sys/mman.h>

namespace alp {

void* map_pages(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

void unmap_pages(void* p, size_t bytes) noexcept {
  if (p) munmap(p, bytes);
}

}  // namespace alp
