#pragma once
// Bookkeeping of the in-place KV cache the exported graphs write (kv_cache.update = "in_place",
// engines/README.md): per layer one K and one V block [lanes, kv_heads, capacity, head_dim], bound to
// past_* and present_* at the same address (TensorRT's IKVCacheUpdateLayer writes in place). A call
// over K lanes binds the block with shape [K, ...]: lanes are the leading axis, so lanes 0..K-1 are the
// block's first K slabs. Prefill writes the prompt into lane 0 once; share() copies it into the other
// lanes once per request; decode and the expert write at each lane's length (kv_write_index). Pure
// arithmetic, so the rules are unit-tested without TensorRT; the runner owns the device memory.
#include <cstdint>
#include <span>
#include <vector>

#include "core/engine_manifest.hpp"

namespace alp::engine {

class KvLanes {
 public:
  KvLanes() = default;
  // `lanes` slabs of kv.capacity rows per layer and K/V; lanes >= 1 (InvalidInput otherwise).
  KvLanes(const KvCacheSpec& kv, int lanes);

  int lanes() const { return static_cast<int>(length_.size()); }
  int64_t capacity() const { return kv_.capacity; }
  uint64_t row_bytes() const;    // one token of one head: head_dim elements
  uint64_t lane_bytes() const;   // one lane of one layer's K (or V): [kv_heads, capacity, head_dim]
  uint64_t block_bytes() const;  // every lane of one layer's K (or V), rounded up to 256 bytes
  uint64_t total_bytes() const;  // 2 * layers * block_bytes()
  // Byte offset of layer `layer`'s K (value = false) or V block: each a 256-byte aligned binding.
  uint64_t offset(int64_t layer, bool value) const;

  // Rows [0, length) of `lane` hold its cache; rows past it are stale (masked by the graphs).
  int64_t length(int lane) const;

  // A new request: the prompt's `n` rows go to lane 0 from row 0; every other lane is emptied.
  // InvalidInput when n is not in 1..capacity.
  void prefill(int64_t n);
  // Opens `lanes` reasoning lanes over lane 0's first `prompt` rows: lanes 1.. get a copy of them (the
  // caller copies, see copy_rows()). InvalidInput unless 1 <= lanes <= lanes() and prompt <= length(0).
  void share(int lanes, int64_t prompt);
  // Per head, the bytes of rows [0, rows) of one lane are one run of rows * row_bytes() at
  // lane * lane_bytes() + head * capacity * row_bytes() inside a block (a 2-D copy: kv_heads runs of
  // that width, pitch capacity * row_bytes()).
  uint64_t head_pitch() const;

  // One decode call over lanes 0..k-1, lane i writing one token at positions[i]: each must be
  // <= length(i) (a rewind drops later rows) and < capacity. Returns the write indices (kv_write_index)
  // and records length = position + 1.
  std::vector<int64_t> decode(std::span<const int64_t> positions);
  // The expert over lanes 0..k-1 with prefixes[i] rows of lane i: 1 <= prefix <= length(i) and
  // prefix + rows <= capacity (its `rows` action rows are written past the prefix, scratch). Returns the
  // write indices; each lane keeps only its prefix as valid rows afterwards.
  std::vector<int64_t> expert(std::span<const int64_t> prefixes, int64_t rows);

 private:
  KvCacheSpec kv_;
  std::vector<int64_t> length_;
};

}  // namespace alp::engine
