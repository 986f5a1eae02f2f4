// The official persistent buffers (Fourier freqs, action-space mean/std): make-checkpoint writes them as
// the official classes register them (names, shapes; bf16 like the release), the planner's config reads
// them in preference to recomputed values, and without them the recomputed values are the official
// constructors'. Golden values: test/fixtures/official_config_fixtures.json (make_official_config_fixtures.py
// runs the official PerWaypointActionInProjV2 / UnicycleAccelCurvatureActionSpace on the tiny checkpoint).
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include "core/checkpoint.hpp"
#include "core/error.hpp"
#include "core/json.hpp"
#include "core/safetensors.hpp"
#include "model/buffers.hpp"
#include "model/checkpoint_writer.hpp"
#include "model/config.hpp"
#include "model/expert.hpp"
#include "tests/check.hpp"
#include "tests/fixture_numbers.hpp"
#include "tests/temp_dir.hpp"

using namespace alp;
using namespace alp::model;

namespace {

const json::Value& official() {
  static const json::Value v = json::parse(test::read_fixture("official_config_fixtures.json"));
  return v;
}

std::vector<double> numbers(const json::Value& section, const std::string& key) {
  std::vector<double> out;
  const json::Value* v = section.find(key);
  if (!v || !v->is_array()) return out;
  for (const json::Value& e : v->as_array()) out.push_back(e.as_number());
  return out;
}

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Rewrites shard 2 of a make-checkpoint directory, letting `edit` drop or replace tensors.
void rewrite_shard2(const std::string& dir, const std::function<bool(NamedTensor&)>& keep) {
  const std::string shard = dir + "/model-00002-of-00002.safetensors";
  std::vector<NamedTensor> tensors;
  {
    const auto f = SafetensorsFile::open(shard);
    for (const auto& [name, info] : f->tensors()) {
      const Tensor view = f->tensor(name);
      Tensor copy(view.dtype(), view.shape());
      std::memcpy(copy.mutable_data(), view.data(), view.nbytes());
      NamedTensor t{name, std::move(copy)};
      if (keep(t)) tensors.push_back(std::move(t));
    }
  }
  write_safetensors(shard, tensors, {{"format", "pt"}});
  // The index lists the tensors; keep only those still stored.
  const json::Value index = json::parse([&] {
    std::ifstream in(dir + "/model.safetensors.index.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }());
  json::Object root = index.as_object();
  json::Object map = index.find("weight_map")->as_object();
  for (auto it = map.begin(); it != map.end();) {
    bool present = it->second.as_string() != "model-00002-of-00002.safetensors";
    for (const auto& t : tensors) present = present || t.name == it->first;
    it = present ? std::next(it) : map.erase(it);
  }
  root["weight_map"] = json::Value(std::move(map));
  std::ofstream(dir + "/model.safetensors.index.json") << json::stringify(json::Value(std::move(root)), 2);
}

}  // namespace

TEST(model_buffers_written_as_the_official_classes_register_them) {
  CHECK(official().is_object());
  test::TempDir dir;
  write_random_checkpoint(dir.path(), "tiny", 0);
  const auto ckpt = Checkpoint::open(dir.path());
  const json::Value& stored_dtype = *official().find("buffers_stored_dtype");
  const json::Value& bf16 = *official().find("buffers_constructed_bf16");
  const json::Value& loaded = *official().find("buffers_loaded");
  int n = 0;
  for (const auto& [name, dtype] : stored_dtype.as_object()) {
    ++n;
    CHECK(ckpt->has(name));
    if (!ckpt->has(name)) continue;
    CHECK_EQ(std::string(dtype_name(ckpt->info(name).dtype)), std::string("BF16"));
    // The stored values are the official constructor's, rounded to bf16 as a bf16 save stores them, and
    // what the official load_state_dict(strict=True) then holds.
    const std::vector<double> got = widen(ckpt->tensor(name).to_f32());
    CHECK(got == numbers(bf16, name));
    CHECK(got == numbers(loaded, name));
  }
  CHECK_EQ(n, 7);  // sinus.0, sinus.1, timestep_fourier_encoder freqs + 4 action-space statistics
}

TEST(model_buffers_from_the_checkpoint_win_over_recomputed_values) {
  test::TempDir dir;
  write_random_checkpoint(dir.path(), "tiny", 0);
  const json::Value& loaded = *official().find("buffers_loaded");
  const json::Value& f32 = *official().find("buffers_constructed_f32");

  // Present: the bf16 values the official model computes with.
  {
    const ModelConfig cfg = load_model_config(*Checkpoint::open(dir.path()));
    CHECK(widen(fourier_freqs(cfg.action_in_proj)) == numbers(loaded, "action_in_proj.sinus.0.freqs"));
    CHECK_EQ(cfg.action_space.accel_std, numbers(loaded, "action_space.accel_std").at(0));
    CHECK_EQ(cfg.action_space.curvature_mean, numbers(loaded, "action_space.curvature_mean").at(0));
    // The config's own value is the unrounded release constant: the buffer really was read.
    CHECK(cfg.action_space.accel_std != parse_model_config(Checkpoint::open(dir.path())->config()).action_space.accel_std);
  }
  // Absent: recomputed, equal to the official constructors' float32 values.
  rewrite_shard2(dir.path(), [](NamedTensor& t) { return !t.name.ends_with(".freqs") && !t.name.starts_with("action_space."); });
  {
    const ModelConfig cfg = load_model_config(*Checkpoint::open(dir.path()));
    CHECK(cfg.action_in_proj.freqs.empty());
    CHECK(widen(fourier_freqs(cfg.action_in_proj)) == numbers(f32, "action_in_proj.timestep_fourier_encoder.freqs"));
    CHECK_EQ(static_cast<float>(cfg.action_space.accel_std), static_cast<float>(numbers(f32, "action_space.accel_std").at(0)));
  }
}

TEST(model_buffers_that_cannot_be_honoured_are_rejected) {
  test::TempDir dir;
  write_random_checkpoint(dir.path(), "tiny", 0);
  // One frequency set serves every Fourier encoder here: encoders that disagree are refused.
  rewrite_shard2(dir.path(), [](NamedTensor& t) {
    if (t.name == "action_in_proj.sinus.1.freqs") t.tensor.mutable_as<uint16_t>()[3] ^= 1;
    return true;
  });
  CHECK_THROWS_CODE(load_model_config(*Checkpoint::open(dir.path())), ErrorCode::InvalidCheckpoint, "same frequencies");
  test::TempDir dir2;
  write_random_checkpoint(dir2.path(), "tiny", 0);
  rewrite_shard2(dir2.path(), [](NamedTensor& t) {
    if (t.name == "action_space.curvature_std") t.tensor.mutable_as<uint16_t>()[0] = 0x8000;  // -0.0
    return true;
  });
  CHECK_THROWS_CODE(load_model_config(*Checkpoint::open(dir2.path())), ErrorCode::InvalidCheckpoint, "curvature_std");
}

TEST(model_config_official_keys_and_values_we_cannot_honour) {
  const json::Value& fx = official();
  const json::Object base = preset_config("tiny").as_object();
  auto with = [&](const std::string& cfg_key, const std::string& key, json::Value v) {
    json::Object root = base;
    json::Object sub = root[cfg_key].as_object();
    sub[key] = std::move(v);
    root[cfg_key] = json::Value(std::move(sub));
    return json::Value(std::move(root));
  };
  // Non-default official history bounds are read (values checked end to end in officialConfig.test.ts).
  const json::Value& h = *fx.find("history_nondefault")->find("cfg");
  json::Object hist = base.at("hist_traj_tokenizer_cfg").as_object();
  for (const auto& [k, v] : h.as_object()) hist[k] = v;
  json::Object root = base;
  root["hist_traj_tokenizer_cfg"] = json::Value(hist);
  const ModelConfig c = parse_model_config(json::Value(root));
  CHECK_EQ(c.hist_dims_min[1], -3.0);
  CHECK_EQ(c.hist_dims_max[0], 3.0);
  CHECK_EQ(c.hist_num_bins, 500);
  // Keys the official classes reject (TypeError in hydra's instantiate) are rejected here too.
  CHECK(fx.find("rejected_by_official")->find("hist_traj_tokenizer_cfg.dims_min")->as_bool());
  CHECK_THROWS_CODE(parse_model_config(with("hist_traj_tokenizer_cfg", "dims_min", json::Array{-4.0, -4.0, -10.0})),
                    ErrorCode::InvalidCheckpoint, "hist_traj_tokenizer_cfg.dims_min");
  CHECK(fx.find("rejected_by_official")->find("action_in_proj_cfg.num_layers")->as_bool());
  CHECK_THROWS_CODE(parse_model_config(with("action_in_proj_cfg", "num_layers", int64_t{2})), ErrorCode::InvalidCheckpoint,
                    "action_in_proj_cfg.num_layers");
  // Values the official code takes but this runtime cannot honour.
  CHECK_THROWS_CODE(parse_model_config(with("hist_traj_tokenizer_cfg", "predict_yaw", true)), ErrorCode::InvalidCheckpoint,
                    "predict_yaw");
  CHECK_THROWS_CODE(parse_model_config(with("hist_traj_tokenizer_cfg", "ego_xyz_max", json::Array{-5.0, 4.0, 10.0})),
                    ErrorCode::InvalidCheckpoint, "ego_xyz_max");
  CHECK_THROWS_CODE(parse_model_config(with("diffusion_cfg", "int_method", "heun")), ErrorCode::InvalidCheckpoint, "int_method");
  CHECK_THROWS_CODE(parse_model_config(with("action_out_proj_cfg", "bias", false)), ErrorCode::InvalidCheckpoint, "bias");
  CHECK_THROWS_CODE(parse_model_config(with("action_space_cfg", "_target_", "x.DiscreteActionSpace")), ErrorCode::InvalidCheckpoint,
                    "_target_");
  // An absent action-space key takes the official constructor default (hydra passes nothing).
  json::Object as = base.at("action_space_cfg").as_object();
  as.erase("accel_std");
  as.erase("curvature_bounds");
  json::Object r2 = base;
  r2["action_space_cfg"] = json::Value(as);
  const ModelConfig d = parse_model_config(json::Value(r2));
  CHECK_EQ(d.action_space.accel_std, 1.0);
  CHECK_EQ(d.action_space.curvature_max, 0.2);
  CHECK_EQ(d.action_space.accel_mean, 0.02902694707164455);
}
