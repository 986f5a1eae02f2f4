#include "core/engine_kv_lanes.hpp"

#include <string>

#include "core/error.hpp"

namespace alp::engine {

KvLanes::KvLanes(const KvCacheSpec& kv, int lanes) : kv_(kv) {
  if (lanes < 1) fail(ErrorCode::InvalidInput, "KV cache: " + std::to_string(lanes) + " lanes requested, expected at least 1");
  if (kv.capacity < 1 || kv.layers < 1 || kv.kv_heads < 1 || kv.head_dim < 1)
    fail(ErrorCode::InvalidEngine, "KV cache: layers, kv_heads, head_dim and capacity must be positive");
  (void)manifest_dtype_size(kv.dtype);  // an unknown dtype fails here, not at the first allocation
  length_.assign(static_cast<size_t>(lanes), 0);
}

uint64_t KvLanes::row_bytes() const { return static_cast<uint64_t>(kv_.head_dim) * manifest_dtype_size(kv_.dtype); }

uint64_t KvLanes::head_pitch() const { return static_cast<uint64_t>(kv_.capacity) * row_bytes(); }

uint64_t KvLanes::lane_bytes() const { return static_cast<uint64_t>(kv_.kv_heads) * head_pitch(); }

// Blocks start at multiples of 256 bytes: TensorRT requires 256-byte aligned tensor addresses, and
// every past_*/present_* binding is the start of a block.
uint64_t KvLanes::block_bytes() const {
  return (static_cast<uint64_t>(lanes()) * lane_bytes() + 255) / 256 * 256;
}

uint64_t KvLanes::total_bytes() const { return 2ull * static_cast<uint64_t>(kv_.layers) * block_bytes(); }

uint64_t KvLanes::offset(int64_t layer, bool value) const {
  if (layer < 0 || layer >= kv_.layers)
    fail(ErrorCode::Internal, "KV cache: layer " + std::to_string(layer) + " outside [0, " + std::to_string(kv_.layers) + ")");
  return static_cast<uint64_t>(2 * layer + (value ? 1 : 0)) * block_bytes();
}

int64_t KvLanes::length(int lane) const {
  if (lane < 0 || lane >= lanes())
    fail(ErrorCode::Internal, "KV cache: lane " + std::to_string(lane) + " outside [0, " + std::to_string(lanes()) + ")");
  return length_[static_cast<size_t>(lane)];
}

void KvLanes::prefill(int64_t n) {
  if (n < 1 || n > kv_.capacity)
    fail(ErrorCode::InvalidInput, "prefill: " + std::to_string(n) + " tokens, the KV cache holds 1.." + std::to_string(kv_.capacity) +
                                      " rows (kv_cache.capacity)");
  length_.assign(length_.size(), 0);
  length_[0] = n;
}

void KvLanes::share(int lanes, int64_t prompt) {
  if (lanes < 1 || lanes > this->lanes())
    fail(ErrorCode::InvalidInput, "KV cache: " + std::to_string(lanes) + " lanes opened, " + std::to_string(this->lanes()) + " reserved");
  if (prompt < 1 || prompt > length_[0])
    fail(ErrorCode::InvalidInput, "KV cache: lanes over a prompt of " + std::to_string(prompt) + " rows, lane 0 holds " +
                                      std::to_string(length_[0]));
  for (int i = 0; i < lanes; ++i) length_[static_cast<size_t>(i)] = prompt;
  for (int i = lanes; i < this->lanes(); ++i) length_[static_cast<size_t>(i)] = 0;
}

std::vector<int64_t> KvLanes::decode(std::span<const int64_t> positions) {
  if (positions.empty() || static_cast<int>(positions.size()) > lanes())
    fail(ErrorCode::InvalidInput, "decode: " + std::to_string(positions.size()) + " lanes, " + std::to_string(lanes()) + " reserved");
  for (size_t i = 0; i < positions.size(); ++i) {
    const int64_t p = positions[i];
    if (p < 0 || p > length_[i] || p + 1 > kv_.capacity)
      fail(ErrorCode::InvalidInput, "decode: lane " + std::to_string(i) + " writes position " + std::to_string(p) + " but holds " +
                                        std::to_string(length_[i]) + " of " + std::to_string(kv_.capacity) + " rows");
  }
  for (size_t i = 0; i < positions.size(); ++i) length_[i] = positions[i] + 1;
  return {positions.begin(), positions.end()};
}

std::vector<int64_t> KvLanes::expert(std::span<const int64_t> prefixes, int64_t rows) {
  if (prefixes.empty() || static_cast<int>(prefixes.size()) > lanes())
    fail(ErrorCode::InvalidInput, "expert: " + std::to_string(prefixes.size()) + " samples, " + std::to_string(lanes()) + " lanes reserved");
  for (size_t i = 0; i < prefixes.size(); ++i) {
    const int64_t p = prefixes[i];
    if (p < 1 || p > length_[i] || p + rows > kv_.capacity)
      fail(ErrorCode::InvalidInput, "expert: lane " + std::to_string(i) + " prefix " + std::to_string(p) + " + " + std::to_string(rows) +
                                        " action rows, the lane holds " + std::to_string(length_[i]) + " of " +
                                        std::to_string(kv_.capacity) + " rows");
  }
  // The action rows overwrite what followed the prefix.
  for (size_t i = 0; i < prefixes.size(); ++i) length_[i] = prefixes[i];
  return {prefixes.begin(), prefixes.end()};
}

}  // namespace alp::engine
