#pragma once
// The token id table of the small test tokenizers: 256 byte tokens, then Qwen's added tokens in their
// release order, then <i0>..<i{traj_vocab-1}>, then the Alpamayo specials in SPECIAL_TOKENS_KEYS
// order. The release tokenizer has the same tail (Qwen added tokens from 151643, <i0> at 151669,
// Alpamayo specials from 155669); only the byte-level base differs. One table feeds the config preset
// (special_token_ids, traj_token_start_idx, vocab_size) and the lead's tokenizer.json writer.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace alp::model {

struct TokenEntry {
  std::string content;
  int64_t id = 0;
  bool special = false;  // tokenizer.json "special" flag (Qwen's <think>/<tool_call> family are not)
};

inline constexpr int64_t kByteTokens = 256;
inline constexpr int64_t kTrajVocabSize = 4000;

// Qwen3 added tokens in id order (release ids 151643..151668).
const std::vector<std::string_view>& qwen_added_tokens();
// The 29 Alpamayo keys (SPECIAL_TOKENS_KEYS order) without <| |>. "image_pad" is already a Qwen
// token, so 28 of them get new ids (release: 155669..155696).
const std::vector<std::string_view>& alpamayo_special_keys();

// Every token of the tiny/small tokenizer, ids 0..N-1 in order.
std::vector<TokenEntry> token_layout();
int64_t token_layout_vocab_size();
int64_t token_layout_traj_start();
// Id of `content` (e.g. "<|image_pad|>") in token_layout(); throws InvalidInput when unknown.
int64_t token_layout_id(std::string_view content);

}  // namespace alp::model
