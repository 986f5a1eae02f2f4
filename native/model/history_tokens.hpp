#pragma once
// Ego-history tokens (model-spec.md §2.4): the 16 ego-frame history positions become 48 bin
// indices, one per (delta x, delta y, delta z), which the prompt builder turns into token ids and
// writes over the 48 <|traj_history|> placeholders. The arithmetic runs in float32 in the same
// order as the official DeltaTrajectoryTokenizer (whose input is the float32 history tensor), so
// bins agree bit-for-bit, including exact .5 ties, which round half to even like torch.round.
#include <cstdint>
#include <span>
#include <vector>

#include "model/trajectory.hpp"

namespace alp::model {

struct HistoryTokenizerConfig {
  float xyz_min[3] = {-4.0f, -4.0f, -10.0f};
  float xyz_max[3] = {4.0f, 4.0f, 10.0f};
  int num_bins = 1000;
};

// xyz: T positions, interleaved (x, y, z), in the t0 ego frame, oldest first. Returns 3T bins in
// [0, num_bins), ordered x0, y0, z0, x1, ... Deltas use an implicit zero before the first position,
// so the first delta is the oldest position itself (it usually saturates, by design).
std::vector<int32_t> history_bins(std::span<const float> xyz, const HistoryTokenizerConfig& cfg = {});
// Same from poses (their p[] is narrowed to float32 first, as the official data loader does).
std::vector<int32_t> history_bins(std::span<const Pose> history_ego, const HistoryTokenizerConfig& cfg = {});

// Token id of each bin: start_idx + offset + bin, where for Alpamayo start_idx is
// traj_token_start_idx (id of <i0>) and offset is the FUTURE tokenizer's num_bins (3000), because
// the history vocabulary follows the future one.
std::vector<int64_t> history_token_ids(std::span<const int32_t> bins, int64_t start_idx, int64_t offset);

// torch.round on float32: nearest integer, exact halves to even. Exposed for tests and callers
// that must match torch's rounding elsewhere.
float round_half_even(float v);

}  // namespace alp::model
