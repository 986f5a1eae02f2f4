#include "core/engine_kv_ping_pong.hpp"

#include <string>

#include "core/error.hpp"

namespace alp::engine {

KvPingPong::KvPingPong(const KvCacheSpec& kv, int64_t rows) : kv_(kv), rows_(rows) {
  if (rows < 1 || rows > kv.capacity)
    fail(ErrorCode::InvalidInput, "KV cache: " + std::to_string(rows) + " rows requested, the engines hold 1.." +
                                      std::to_string(kv.capacity) + " (kv_cache.capacity)");
  (void)manifest_dtype_size(kv.dtype);  // an unknown dtype fails here, not at the first allocation
}

uint64_t KvPingPong::row_bytes() const {
  return static_cast<uint64_t>(kv_.kv_heads * kv_.head_dim) * manifest_dtype_size(kv_.dtype);
}

// Blocks start at multiples of 256 bytes: TensorRT requires 256-byte aligned tensor addresses, and
// every past_*/present_* binding is the start of a block.
uint64_t KvPingPong::block_bytes() const { return (static_cast<uint64_t>(rows_) * row_bytes() + 255) / 256 * 256; }

uint64_t KvPingPong::buffer_bytes() const { return 2ull * static_cast<uint64_t>(kv_.layers) * block_bytes(); }

uint64_t KvPingPong::offset(int64_t layer, bool value) const {
  if (layer < 0 || layer >= kv_.layers)
    fail(ErrorCode::Internal, "KV cache: layer " + std::to_string(layer) + " outside [0, " + std::to_string(kv_.layers) + ")");
  return static_cast<uint64_t>(2 * layer + (value ? 1 : 0)) * block_bytes();
}

KvPingPong::LlmCall KvPingPong::plan_llm(int64_t past_len, int64_t seq) const {
  if (seq < 1) fail(ErrorCode::InvalidInput, "llm: " + std::to_string(seq) + " tokens, expected at least 1");
  if (past_len < 0 || past_len > valid_)
    fail(ErrorCode::InvalidInput, "llm: cache position " + std::to_string(past_len) + " but the KV cache holds " +
                                      std::to_string(valid_) + " positions");
  if (past_len + seq > rows_)
    fail(ErrorCode::InvalidInput, "llm: positions [" + std::to_string(past_len) + ", " + std::to_string(past_len + seq) +
                                      ") exceed the reserved KV cache of " + std::to_string(rows_) + " positions");
  return {current_, 1 - current_, past_len, past_len + seq};
}

void KvPingPong::commit(const LlmCall& call) {
  if (call.past_buffer != current_ || call.present_len > rows_)
    fail(ErrorCode::Internal, "KV cache: commit of a call planned against another state");
  current_ = call.present_buffer;
  valid_ = call.present_len;
}

int KvPingPong::expert_buffer(int64_t prefix_len) const {
  if (prefix_len < 1 || prefix_len > valid_)
    fail(ErrorCode::InvalidInput, "expert: prefix length " + std::to_string(prefix_len) + " but the KV cache holds " +
                                      std::to_string(valid_) + " positions (needs 1..valid)");
  return current_;
}

}  // namespace alp::engine
