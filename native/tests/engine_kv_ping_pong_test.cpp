// The KV ping-pong bookkeeping the TensorRT runner binds by (engine_kv_ping_pong.hpp): buffer
// alternation, prefix reads, rewinds for a new rollout and the byte layout of one buffer.
#include "core/engine_kv_ping_pong.hpp"
#include "core/error.hpp"
#include "tests/check.hpp"

using namespace alp;
using namespace alp::engine;

namespace {
// 3 layers, 2 KV heads x 4, float16: a row is 2 * 4 * 2 = 16 bytes.
const KvCacheSpec kSpec{3, 2, 4, 64, "float16", "concat"};
}  // namespace

TEST(engine_kv_ping_pong_layout) {
  const KvPingPong kv(kSpec, 10);
  CHECK_EQ(kv.row_bytes(), uint64_t{16});
  // 160 bytes of rows, padded to 256 so every block (a TensorRT binding) is 256-byte aligned.
  CHECK_EQ(kv.block_bytes(), uint64_t{256});
  CHECK_EQ(kv.buffer_bytes(), uint64_t{3 * 2 * 256});
  CHECK_EQ(kv.offset(0, false), uint64_t{0});
  CHECK_EQ(kv.offset(0, true), uint64_t{256});
  CHECK_EQ(kv.offset(2, true), uint64_t{5 * 256});
  CHECK_EQ(KvPingPong(kSpec, 16).block_bytes(), uint64_t{256});
  CHECK_EQ(KvPingPong(kSpec, 17).block_bytes(), uint64_t{512});
  CHECK_EQ(kv.offset(2, true) + kv.block_bytes(), kv.buffer_bytes());
  CHECK_THROWS_CODE(kv.offset(3, false), ErrorCode::Internal, "layer 3 outside [0, 3)");
  CHECK_THROWS_CODE(KvPingPong(kSpec, 65), ErrorCode::InvalidInput, "65 rows requested, the engines hold 1..64");
  CHECK_THROWS_CODE(KvPingPong(KvCacheSpec{3, 2, 4, 64, "fp4", "concat"}, 8), ErrorCode::InvalidEngine, "fp4");
}

TEST(engine_kv_ping_pong_prefill_decode_rewind) {
  KvPingPong kv(kSpec, 10);
  CHECK_EQ(kv.valid(), int64_t{0});
  CHECK_THROWS_CODE(kv.expert_buffer(1), ErrorCode::InvalidInput, "prefix length 1 but the KV cache holds 0");
  CHECK_THROWS_CODE(kv.plan_llm(1, 1), ErrorCode::InvalidInput, "cache position 1 but the KV cache holds 0");

  // Prefill of 6: past empty in buffer 0, present (6 rows) into buffer 1, which becomes current.
  auto c = kv.plan_llm(0, 6);
  CHECK_EQ(c.past_buffer, 0);
  CHECK_EQ(c.present_buffer, 1);
  CHECK_EQ(c.present_len, int64_t{6});
  kv.commit(c);
  CHECK_EQ(kv.current(), 1);
  CHECK_EQ(kv.valid(), int64_t{6});
  CHECK_EQ(kv.expert_buffer(6), 1);

  // Two decode steps alternate buffers and grow the valid prefix by one each.
  c = kv.plan_llm(6, 1);
  CHECK_EQ(c.past_buffer, 1);
  CHECK_EQ(c.present_buffer, 0);
  kv.commit(c);
  c = kv.plan_llm(7, 1);
  kv.commit(c);
  CHECK_EQ(kv.current(), 1);
  CHECK_EQ(kv.valid(), int64_t{8});
  CHECK_THROWS_CODE(kv.expert_buffer(9), ErrorCode::InvalidInput, "prefix length 9 but the KV cache holds 8");

  // A second rollout restarts after the 6-token prompt: the rows past it are dropped.
  c = kv.plan_llm(6, 1);
  CHECK_EQ(c.past_len, int64_t{6});
  kv.commit(c);
  CHECK_EQ(kv.valid(), int64_t{7});
  CHECK_EQ(kv.current(), 0);

  CHECK_THROWS_CODE(kv.plan_llm(7, 4), ErrorCode::InvalidInput, "positions [7, 11) exceed the reserved KV cache of 10");
  CHECK_THROWS_CODE(kv.plan_llm(7, 0), ErrorCode::InvalidInput, "0 tokens");
  const auto stale = kv.plan_llm(7, 1);
  kv.commit(kv.plan_llm(7, 1));
  CHECK_THROWS_CODE(kv.commit(stale), ErrorCode::Internal, "planned against another state");
  kv.clear();
  CHECK_EQ(kv.valid(), int64_t{0});
}
