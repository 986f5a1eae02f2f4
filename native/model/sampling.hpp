#pragma once
// Host-side next-token choice with Hugging Face generate() semantics: the trajectory ids are set to
// -inf (ExpertLogitsProcessor), then logits / temperature, then TopPLogitsWarper (drop tokens whose
// cumulative probability in *ascending* order is <= 1 - top_p, always keeping the most likely one),
// then a draw from the renormalised softmax. temperature == 0 means greedy (first arg-max).
#include <cstdint>
#include <span>
#include <vector>

namespace alp::model {

struct SamplingParams {
  float temperature = 0.6f;
  float top_p = 0.98f;
  int64_t masked_begin = 0, masked_end = 0;  // ids [begin, end) get -inf (the 4000 <iN> tokens)
};

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

}  // namespace alp::model
