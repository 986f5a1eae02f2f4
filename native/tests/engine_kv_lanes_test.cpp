// The in-place KV lane bookkeeping the TensorRT runner binds by (engine_kv_lanes.hpp): byte layout of
// the [lanes, kv_heads, capacity, head_dim] blocks, prompt sharing, per-lane write indices, rewinds and
// the expert's scratch rows past the prefix.
#include "core/engine_kv_lanes.hpp"
#include "core/error.hpp"
#include "tests/check.hpp"

using namespace alp;
using namespace alp::engine;

namespace {
// 3 layers, 2 KV heads x 4, float16, capacity 10: a head's row is 4 * 2 = 8 bytes.
const KvCacheSpec kSpec{3, 2, 4, 10, "float16", "in_place"};
}  // namespace

TEST(engine_kv_lanes_layout) {
  const KvLanes kv(kSpec, 3);
  CHECK_EQ(kv.row_bytes(), uint64_t{8});
  CHECK_EQ(kv.head_pitch(), uint64_t{80});
  CHECK_EQ(kv.lane_bytes(), uint64_t{160});
  // 3 lanes x 160 = 480 bytes, padded to 512 so every block (a TensorRT binding) is 256-byte aligned.
  CHECK_EQ(kv.block_bytes(), uint64_t{512});
  CHECK_EQ(kv.total_bytes(), uint64_t{3 * 2 * 512});
  CHECK_EQ(kv.offset(0, false), uint64_t{0});
  CHECK_EQ(kv.offset(0, true), uint64_t{512});
  CHECK_EQ(kv.offset(2, true), uint64_t{5 * 512});
  for (int64_t l = 0; l < 3; ++l)
    for (bool v : {false, true}) CHECK_EQ(kv.offset(l, v) % 256, uint64_t{0});
  CHECK_THROWS_CODE(kv.offset(3, false), ErrorCode::Internal, "layer 3 outside [0, 3)");
  CHECK_THROWS_CODE(KvLanes(kSpec, 0), ErrorCode::InvalidInput, "0 lanes requested");
  CHECK_THROWS_CODE(KvLanes(KvCacheSpec{3, 2, 4, 10, "fp4", "in_place"}, 1), ErrorCode::InvalidEngine, "fp4");
}

TEST(engine_kv_lanes_prefill_share_decode_expert) {
  KvLanes kv(kSpec, 3);
  CHECK_THROWS_CODE(kv.prefill(11), ErrorCode::InvalidInput, "11 tokens, the KV cache holds 1..10 rows");
  kv.prefill(4);
  CHECK_EQ(kv.length(0), int64_t{4});
  CHECK_EQ(kv.length(1), int64_t{0});
  CHECK_THROWS_CODE(kv.share(4, 4), ErrorCode::InvalidInput, "4 lanes opened, 3 reserved");
  CHECK_THROWS_CODE(kv.share(2, 5), ErrorCode::InvalidInput, "prompt of 5 rows, lane 0 holds 4");
  kv.share(2, 4);
  CHECK_EQ(kv.length(1), int64_t{4});
  CHECK_EQ(kv.length(2), int64_t{0});
  // Two lanes, one token each at their own length.
  const int64_t pos[2] = {4, 4};
  CHECK(kv.decode(pos) == (std::vector<int64_t>{4, 4}));
  const int64_t next[2] = {5, 5};
  kv.decode(next);
  CHECK_EQ(kv.length(0), int64_t{6});
  // A lane may not skip rows, and a rewind drops its later rows.
  const int64_t skip[2] = {6, 8};
  CHECK_THROWS_CODE(kv.decode(skip), ErrorCode::InvalidInput, "lane 1 writes position 8 but holds 6 of 10 rows");
  const int64_t rewind[1] = {4};
  kv.decode(rewind);
  CHECK_EQ(kv.length(0), int64_t{5});
  CHECK_EQ(kv.length(1), int64_t{6});
  // The expert: each lane's prefix, its action rows written past it (scratch), so only the prefix stays valid.
  const int64_t too_long[2] = {5, 6};
  CHECK_THROWS_CODE(kv.expert(too_long, 5), ErrorCode::InvalidInput, "lane 1 prefix 6 + 5 action rows");
  const int64_t prefix[2] = {5, 3};
  CHECK(kv.expert(prefix, 4) == (std::vector<int64_t>{5, 3}));
  CHECK_EQ(kv.length(1), int64_t{3});
  const int64_t empty[1] = {0};
  CHECK_THROWS_CODE(kv.expert(empty, 4), ErrorCode::InvalidInput, "prefix 0");
  // A new request empties the other lanes.
  kv.prefill(2);
  CHECK_EQ(kv.length(1), int64_t{0});
}
