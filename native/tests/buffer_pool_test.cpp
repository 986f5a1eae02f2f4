// The CPU executor's activation pool: size classes, reuse, zeroing, lifetime past the pool, and the
// property the soak depends on: repeating the same work allocates nothing new.
#include <cstdint>
#include <vector>

#include "backends/cpu/buffer_pool.hpp"
#include "backends/cpu/cpu_ops.hpp"
#include "core/error.hpp"
#include "tests/check.hpp"

using namespace alp;

TEST(buffer_pool_size_classes_bound_the_slack) {
  CHECK_EQ(cpu::BufferPool::size_class(0), 16u);
  CHECK_EQ(cpu::BufferPool::size_class(16), 16u);
  CHECK_EQ(cpu::BufferPool::size_class(17), 18u);
  CHECK_EQ(cpu::BufferPool::size_class(1000), 1024u);
  CHECK_EQ(cpu::BufferPool::size_class(1025), 1152u);
  size_t prev = 0;
  for (size_t n = 1; n < 200000; n += 7) {
    const size_t c = cpu::BufferPool::size_class(n);
    CHECK(c >= n);
    CHECK(n <= 16 || c * 8 <= n * 9 + 8 * 8);  // <= 12.5 % slack (+ rounding at tiny sizes)
    CHECK(c >= prev);                          // monotone
    prev = c;
  }
}

TEST(buffer_pool_reuses_zeroes_and_outlives_itself) {
  cpu::BufferPool::Buffer survivor;
  {
    cpu::BufferPool pool;
    auto a = pool.acquire(1000);
    CHECK_EQ(a->size(), 1000u);
    const float* first = a->data();
    (*a)[3] = 7.f;
    a.reset();
    CHECK_EQ(pool.pooled_bytes(), 1024u * sizeof(float));
    auto b = pool.acquire(1010);  // same class: the same storage, zeroed again
    CHECK(b->data() == first);
    CHECK_EQ(b->size(), 1010u);
    CHECK_EQ((*b)[3], 0.f);
    CHECK_EQ(pool.pooled_bytes(), 0u);
    auto c = pool.acquire(1000);  // the class's only buffer is in use: a new one
    CHECK(c->data() != first);
    CHECK_EQ(pool.owned_bytes(), 2u * 1024u * sizeof(float));
    c.reset();
    pool.trim();
    CHECK_EQ(pool.pooled_bytes(), 0u);
    CHECK_EQ(pool.owned_bytes(), 1024u * sizeof(float));
    survivor = std::move(b);
  }
  // The pool is gone; the buffer is still valid and is freed (not recycled) when released (ASan checks).
  (*survivor)[0] = 1.f;
  survivor.reset();
}

TEST(cpu_ops_repeated_work_allocates_no_new_activations) {
  cpu::CpuOps ops([](std::string_view n) -> Tensor { fail(ErrorCode::InvalidCheckpoint, "missing tensor " + std::string(n)); },
                  cpu::CpuOptions{Precision::FP32, 1});
  auto pass = [&](int64_t rows) {
    std::vector<float> data(static_cast<size_t>(rows * 64), 0.5f);
    model::Value x = ops.input("x", {rows, 64}, data);
    model::Value y = ops.silu(ops.add(ops.scale(x, 2.f), x));
    return ops.concat({y, ops.slice(y, 0, 0, 1)}, 0);
  };
  std::vector<float> first = cpu::CpuOps::values(pass(100));
  const uint64_t owned = ops.activation_bytes();
  CHECK(owned > 0);
  for (int i = 0; i < 50; ++i) {
    std::vector<float> again = cpu::CpuOps::values(pass(100));
    CHECK(again == first);  // recycled buffers carry no stale data into results
  }
  CHECK_EQ(ops.activation_bytes(), owned);
  pass(97);  // a nearby size reuses the same classes too
  CHECK_EQ(ops.activation_bytes(), owned);
}

TEST(page_allocator_maps_large_blocks_and_heaps_small_ones) {
  HostFloats big(kPageAllocMin / sizeof(float), 0.f);  // exactly the threshold: mapped pages
  CHECK_EQ(reinterpret_cast<uintptr_t>(big.data()) % 4096, 0u);
  big.back() = 3.f;
  big.resize(big.size() * 3, 1.f);  // reallocation moves the data between two mappings
  CHECK_EQ(big[kPageAllocMin / sizeof(float) - 1], 3.f);
  CHECK_EQ(big.back(), 1.f);
  HostFloats small(10, 2.f);  // heap
  CHECK_EQ(small[9], 2.f);
  HostFloats copy = big;
  CHECK(copy == big);
}
