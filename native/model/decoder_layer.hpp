#pragma once
// One Qwen3 decoder layer over Ops, shared by the backbone (causal, writes the KV cache) and the
// action expert (reads backbone layer i's cache prefix, keeps its own K/V private).
#include <span>
#include <string>

#include "model/config.hpp"
#include "model/ops.hpp"

namespace alp::model {

// Consecutive rows of h that belong to one reasoning lane (see Ops::kv_share). Every row shares the
// linears; attention runs per segment over that lane's cache. `pos` means what LayerKv::pos means.
struct KvSegment {
  int64_t rows = 0;
  int64_t lane = 0;
  int64_t pos = 0;
};

struct LayerKv {
  enum class Mode { WriteCache, ReadPrefix } mode = Mode::WriteCache;
  int64_t cache_layer = 0;
  int64_t pos = 0;  // WriteCache: first cache position of these tokens (causal past); ReadPrefix: prefix length
  bool causal = true;
  // Empty: every row is one segment of lane 0 at `pos`. Otherwise the segments cover h's rows in order.
  std::span<const KvSegment> segments = {};
};

// h[N, hidden] -> h[N, hidden]. `prefix` is e.g. "vlm.model.language_model.layers.3." or "expert.layers.3.".
Value decoder_layer(Ops& ops, const DecoderConfig& d, const std::string& prefix, const Value& h, const Value& cos,
                    const Value& sin, const LayerKv& kv);

// Weight of a 1-D / 2-D parameter with the expected shape.
inline Value weight(Ops& ops, const std::string& name, Shape shape) { return ops.weight(name, shape); }

}  // namespace alp::model
