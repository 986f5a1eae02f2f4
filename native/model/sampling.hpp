#pragma once
// Host-side next-token choice with Hugging Face generate() semantics: the trajectory ids are set to
// -inf (ExpertLogitsProcessor), then logits / temperature, then TopPLogitsWarper (drop tokens whose
// cumulative probability in *ascending* order is <= 1 - top_p, always keeping the most likely one),
// then a draw from the renormalised softmax. temperature == 0 means greedy (first arg-max).
// The per-element rule (and SamplingParams) lives in model/sampling_rule.hpp, shared with the CUDA
// selection kernel; this file is the host's sort-based form of it, used by the CPU executor.
#include <cstdint>
#include <span>
#include <vector>

#include "model/sampling_rule.hpp"

namespace alp::model {

// Probabilities after masking, temperature and top-p (zeros for removed ids). Throws InvalidInput
// when every id is masked or the parameters are out of range.
std::vector<double> token_probabilities(std::span<const float> logits, const SamplingParams& p);

// A seeded sampler (SplitMix64 -> 53-bit uniform); one instance per rollout keeps rollouts reproducible.
// Sampler state of rollout `sample` of a plan seeded with `seed`: one SplitMix64 output of
// (seed, sample), so neighbouring seeds give unrelated streams (seed * golden + sample would make seed
// s + 1 replay seed s's stream shifted by one draw, because the golden ratio is SplitMix64's own step).
uint64_t rollout_sampler_state(uint64_t seed, uint64_t sample);

class TokenSampler {
 public:
  explicit TokenSampler(uint64_t seed) : state_(seed) {}
  int64_t next(std::span<const float> logits, const SamplingParams& p);
  double uniform();  // [0, 1)

 private:
  uint64_t state_;
};

// The next token of several rollouts at once: row i of `logits` ([samplers.size(), vocab], row-major)
// with samplers[i], by TokenSampler::next's rule and draws; a null sampler skips its row (-1). Every
// executor's token selection is this function, so batched and one-at-a-time rollouts agree.
std::vector<int32_t> select_tokens(std::span<const float> logits, std::span<TokenSampler* const> samplers,
                                   const SamplingParams& p);

// Throws InvalidInput unless temperature >= 0 and top_p is in (0, 1] (token_probabilities' check;
// a device selector runs it before drawing).
void check_sampling_params(const SamplingParams& p);

// The uniforms select_tokens would draw for these rows, drawn now in row order: u in [0, 1) for each
// row with a sampler when sampling (temperature > 0), 0 for greedy rows and rows without a sampler.
// A device selector passes them to its kernel, so its draws are the host's SplitMix64 stream.
std::vector<double> draw_uniforms(std::span<TokenSampler* const> samplers, const SamplingParams& p);

// Throws the error select_tokens throws for a failed lane (INVALID_CHECKPOINT for a non-finite logit,
// INVALID_INPUT when no token is left); returns when `s` is kSelectOk.
void raise_selection_failure(const LaneSelection& s);

// The device's selection algorithm (model::select_lane, kSelectThreads threads, the same reduction
// tree) run on the host: what the CUDA kernel computes, for tests of the block algorithm against the
// sort rule above. Parameters must pass check_sampling_params.
LaneSelection select_lane_host(std::span<const float> row, double u, const SamplingParams& p);

}  // namespace alp::model
