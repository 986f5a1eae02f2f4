#pragma once
// Bookkeeping of the two KV buffers the functional ("concat") cache convention needs: an llm call reads
// past_* from the current buffer and writes present_* = concat(past, new) into the other one, which
// then becomes current. The expert reads a prefix of the current buffer in place. Pure arithmetic, so
// the binding rules are unit-tested without TensorRT; the runner owns the device memory.
//
// Layout of one buffer: [layer][K | V][rows, kv_heads, head_dim]. Token-major rows make the prefix
// [0, n) of a layer's K or V one contiguous block, so an engine binds it with shape [n, kv_heads,
// head_dim] at the block's start: no copy for the expert, one memcpy per block to grow.
#include <cstdint>

#include "core/engine_manifest.hpp"

namespace alp::engine {

class KvPingPong {
 public:
  KvPingPong() = default;
  // `rows` tokens per buffer, 1 <= rows <= kv.capacity (InvalidInput otherwise).
  KvPingPong(const KvCacheSpec& kv, int64_t rows);

  int64_t rows() const { return rows_; }
  int64_t valid() const { return valid_; }  // leading rows of the current buffer that hold the cache
  int current() const { return current_; }  // 0 or 1
  uint64_t buffer_bytes() const;             // one buffer (the runner allocates two)
  uint64_t block_bytes() const;              // one layer's K (or V) at full `rows`, rounded up to 256 bytes
  uint64_t row_bytes() const;                // one token of one layer's K (or V)
  // Byte offset of layer `layer`'s K (value = false) or V block inside a buffer.
  uint64_t offset(int64_t layer, bool value) const;

  struct LlmCall {
    int past_buffer = 0, present_buffer = 1;
    int64_t past_len = 0;     // rows bound to past_* (shape [past_len, kv_heads, head_dim])
    int64_t present_len = 0;  // rows the engine writes to present_*
  };
  // An llm call over `seq` new tokens at cache position `past_len`. Rewinding (past_len < valid(), a
  // new reasoning rollout over the shared prompt) is allowed; reading rows never written is not.
  // InvalidInput naming the values when past_len > valid() or past_len + seq > rows().
  LlmCall plan_llm(int64_t past_len, int64_t seq) const;
  // After the engine ran: the present buffer becomes current with present_len valid rows.
  void commit(const LlmCall& call);

  // The buffer the expert reads prefix [0, prefix_len) from; InvalidInput unless 1 <= prefix_len <= valid().
  int expert_buffer(int64_t prefix_len) const;

  void clear() { valid_ = 0; }

 private:
  KvCacheSpec kv_;
  int64_t rows_ = 0, valid_ = 0;
  int current_ = 0;
};

}  // namespace alp::engine
