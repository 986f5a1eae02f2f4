#include "model/token_layout.hpp"

#include "core/error.hpp"

namespace alp::model {

const std::vector<std::string_view>& qwen_added_tokens() {
  static const std::vector<std::string_view> t = {
      "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
      "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
      "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>",
      "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
      "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>"};
  return t;
}

const std::vector<std::string_view>& alpamayo_special_keys() {
  static const std::vector<std::string_view> k = {
      "prompt_start", "prompt_end", "image_start", "image_pre_tkn", "image_end",
      "traj_history_start", "traj_history_pre_tkn", "traj_history_end", "cot_start", "cot_end",
      "meta_action_start", "meta_action_end", "traj_future_start", "traj_future_pre_tkn", "traj_future_end",
      "traj_history", "traj_future", "image_pad", "vectorized_wm", "vectorized_wm_start",
      "vectorized_wm_end", "vectorized_wm_pre_tkn", "route_start", "route_pad", "route_end",
      "question_start", "question_end", "answer_start", "answer_end"};
  return k;
}

namespace {
bool qwen_token_is_special(std::string_view t) {
  // In Qwen3's tokenizer.json the tool/think markers are added as normal (non-special) tokens.
  return !(t == "<tool_call>" || t == "</tool_call>" || t == "<tool_response>" || t == "</tool_response>" ||
           t == "<think>" || t == "</think>");
}
bool is_qwen_token(std::string_view t) {
  for (auto q : qwen_added_tokens())
    if (q == t) return true;
  return false;
}
// HF add_tokens skips contents already in the vocabulary, so Alpamayo's "<|image_pad|>" keeps Qwen's id
// and the tokens after it close the gap (verified with tokenizers: re-adding an existing token adds
// nothing). Hence 28 new ids, not 29.
int64_t alpamayo_new_tokens() {
  int64_t n = 0;
  for (auto k : alpamayo_special_keys()) n += is_qwen_token("<|" + std::string(k) + "|>") ? 0 : 1;
  return n;
}
}  // namespace

std::vector<TokenEntry> token_layout() {
  std::vector<TokenEntry> out;
  out.reserve(static_cast<size_t>(token_layout_vocab_size()));
  for (int64_t b = 0; b < kByteTokens; ++b) out.push_back({"<0x" + [&] {
    const char* hex = "0123456789ABCDEF";
    return std::string{hex[b >> 4], hex[b & 15]};
  }() + ">", b, false});
  for (auto t : qwen_added_tokens()) out.push_back({std::string(t), static_cast<int64_t>(out.size()), qwen_token_is_special(t)});
  for (int64_t i = 0; i < kTrajVocabSize; ++i)
    out.push_back({"<i" + std::to_string(i) + ">", static_cast<int64_t>(out.size()), false});
  for (auto k : alpamayo_special_keys()) {
    std::string content = "<|" + std::string(k) + "|>";
    if (is_qwen_token(content)) continue;
    out.push_back({content, static_cast<int64_t>(out.size()), true});
  }
  return out;
}

int64_t token_layout_traj_start() { return kByteTokens + static_cast<int64_t>(qwen_added_tokens().size()); }

int64_t token_layout_vocab_size() {
  return token_layout_traj_start() + kTrajVocabSize + alpamayo_new_tokens();
}

int64_t token_layout_id(std::string_view content) {
  const auto& q = qwen_added_tokens();
  for (size_t i = 0; i < q.size(); ++i)
    if (q[i] == content) return kByteTokens + static_cast<int64_t>(i);
  int64_t id = token_layout_traj_start() + kTrajVocabSize;
  for (auto k : alpamayo_special_keys()) {
    const std::string c = "<|" + std::string(k) + "|>";
    if (is_qwen_token(c)) continue;
    if (c == content) return id;
    ++id;
  }
  fail(ErrorCode::InvalidInput, "token_layout: unknown token '" + std::string(content) + "'");
}

}  // namespace alp::model
