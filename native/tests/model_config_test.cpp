// Config parsing, presets and the token id table.
#include <set>

#include "model/config.hpp"
#include "model/token_layout.hpp"
#include "tests/check.hpp"
#include "core/error.hpp"
#include "tests/check.hpp"

using namespace alp;
using namespace alp::model;

TEST(model_token_layout_mirrors_release_order) {
  const auto t = token_layout();
  CHECK_EQ(static_cast<int64_t>(t.size()), token_layout_vocab_size());
  std::set<std::string> contents;
  for (size_t i = 0; i < t.size(); ++i) {
    CHECK_EQ(t[i].id, static_cast<int64_t>(i));
    contents.insert(t[i].content);
  }
  CHECK_EQ(contents.size(), t.size());  // no duplicate content (Alpamayo's <|image_pad|> reuses Qwen's)
  // Release ids minus the release base (151643) plus our 256 byte tokens.
  const int64_t shift = 151643 - 256;
  CHECK_EQ(token_layout_id("<|image_pad|>") + shift, 151655);
  CHECK_EQ(token_layout_id("<|vision_start|>") + shift, 151652);
  CHECK_EQ(token_layout_traj_start() + shift, 151669);
  CHECK_EQ(token_layout_id("<|traj_history_start|>") + shift, 155674);
  CHECK_EQ(token_layout_id("<|cot_start|>") + shift, 155677);
  CHECK_EQ(token_layout_id("<|traj_future_start|>") + shift, 155681);
  CHECK_EQ(token_layout_id("<|traj_history|>") + shift, 155684);
  CHECK_EQ(token_layout_vocab_size(), 256 + 26 + 4000 + 28);
  CHECK(!t[token_layout_id("<think>")].special);
  CHECK(t[token_layout_id("<|im_start|>")].special);
}

TEST(model_preset_and_builtin_configs_parse) {
  const ModelConfig tiny = parse_model_config(preset_config("tiny"));
  CHECK_EQ(tiny.text.hidden_size, 64);
  CHECK_EQ(tiny.vocab_size, token_layout_vocab_size());
  CHECK_EQ(tiny.expert.num_layers, 2);
  CHECK_EQ(tiny.expert.num_kv_heads, 2);
  CHECK_EQ(tiny.special_id("<|traj_future_start|>"), token_layout_id("<|traj_future_start|>"));
  CHECK_EQ(tiny.image_token_id, token_layout_id("<|image_pad|>"));
  CHECK_EQ(tiny.traj_token_start_idx, token_layout_traj_start());
  // Release config without vlm_config: the built-in Qwen3-VL-8B values and derived special ids.
  json::Object rel = preset_config("tiny").as_object();
  rel.erase("vlm_config");
  rel.erase("special_token_ids");
  rel.erase("traj_token_ids");
  rel["vocab_size"] = int64_t{155697};
  rel["traj_token_start_idx"] = int64_t{151669};
  rel["expert_cfg"] = json::Object{{"head_dim", int64_t{128}}, {"hidden_size", int64_t{2048}},
                                   {"intermediate_size", int64_t{8256}}, {"num_attention_heads", int64_t{16}}};
  const ModelConfig r = parse_model_config(json::Value(rel));
  CHECK_EQ(r.text.num_layers, 36);
  CHECK_EQ(r.text.mrope_section[0], 24);
  CHECK_EQ(r.vision.deepstack_visual_indexes.size(), size_t{3});
  CHECK_EQ(r.expert.num_kv_heads, 8);
  CHECK_EQ(r.special_id("<|traj_future_start|>"), 155681);
  CHECK_EQ(r.special_id("<|cot_end|>"), 155678);
  CHECK_EQ(r.image_token_id, 151655);
}

TEST(model_config_errors_name_the_field) {
  json::Object c = preset_config("tiny").as_object();
  c.erase("traj_token_start_idx");
  CHECK_THROWS_CODE(parse_model_config(json::Value(c)), ErrorCode::InvalidCheckpoint, "traj_token_start_idx: missing field");
  json::Object d = preset_config("tiny").as_object();
  d["expert_cfg"] = json::Object{{"head_dim", int64_t{32}}};
  CHECK_THROWS_CODE(parse_model_config(json::Value(d)), ErrorCode::InvalidCheckpoint, "expert_cfg.head_dim");
  CHECK_THROWS_CODE(preset_config("huge"), ErrorCode::InvalidInput, "huge");
}
