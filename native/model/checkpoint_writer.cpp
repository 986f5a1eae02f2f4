#include "model/checkpoint_writer.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/safetensors.hpp"
#include "model/buffers.hpp"
#include "model/config.hpp"
#include "model/param_specs.hpp"
#include "model/philox.hpp"

namespace alp::model {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Weights with enough spread that swapped or skipped tensors change the logits visibly (a flat random
// init would hide them): norm gains around 1, small biases, matrices scaled by 1/sqrt(fan_in).
Tensor random_tensor(const ParamSpec& spec, uint64_t seed, uint64_t stream) {
  const int64_t n = shape_numel(spec.shape);
  std::vector<float> v(static_cast<size_t>(n));
  fill_philox_normal(seed, stream, 0, v);
  const bool is_norm = spec.shape.size() == 1 && spec.name.find("norm") != std::string::npos;
  if (is_norm) {
    for (float& x : v) x = 1.0f + 0.2f * x;
  } else if (ends_with(spec.name, ".bias")) {
    for (float& x : v) x *= 0.1f;
  } else {
    int64_t fan_in = 1;
    for (size_t i = 1; i < spec.shape.size(); ++i) fan_in *= spec.shape[i];
    if (spec.shape.size() < 2) fan_in = spec.shape.empty() ? 1 : spec.shape[0];
    const float s = 1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(fan_in, 1)));
    for (float& x : v) x *= s;
  }
  Tensor t(DType::BF16, spec.shape);
  auto* dst = t.mutable_as<uint16_t>();
  for (size_t i = 0; i < v.size(); ++i) dst[i] = f32_to_bf16(v[i]);
  return t;
}

void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
  if (!f) fail(ErrorCode::InvalidInput, "make-checkpoint: cannot write " + p.string());
}

}  // namespace

WrittenCheckpoint write_random_checkpoint(const std::string& dir, std::string_view preset, uint64_t seed) {
  const json::Value config = preset_config(preset);
  const ModelConfig cfg = parse_model_config(config);
  std::filesystem::create_directories(dir);
  const std::filesystem::path root(dir);
  write_text(root / "config.json", json::stringify(config, 2) + "\n");

  // Two shards like the release's split (backbone | the rest), joined by the index's weight_map.
  const char* shard_names[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
  std::vector<NamedTensor> shards[2];
  json::Object weight_map;
  WrittenCheckpoint out;
  uint64_t stream = 0;
  for (const ParamSpec& spec : parameter_specs(cfg)) {
    const int shard = spec.name.rfind("vlm.", 0) == 0 ? 0 : 1;
    shards[shard].push_back({spec.name, random_tensor(spec, seed, stream++)});
    weight_map[spec.name] = json::Value(shard_names[shard]);
    out.parameters += shape_numel(spec.shape);
    ++out.tensors;
  }
  // The persistent buffers, as a checkpoint saved from the official model holds them (bf16 like every
  // other tensor here): the planner reads them instead of recomputing (model/buffers.hpp).
  for (const BufferSpec& spec : buffer_specs(cfg)) {
    const std::vector<float> v = buffer_values(cfg, spec);
    Tensor t(DType::BF16, spec.shape);
    auto* dst = t.mutable_as<uint16_t>();
    for (size_t i = 0; i < v.size(); ++i) dst[i] = f32_to_bf16(v[i]);
    shards[1].push_back({spec.name, std::move(t)});
    weight_map[spec.name] = json::Value(shard_names[1]);
    ++out.tensors;
  }
  uint64_t total_bytes = 0;
  for (int i = 0; i < 2; ++i) {
    for (const auto& t : shards[i]) total_bytes += t.tensor.nbytes();
    write_safetensors((root / shard_names[i]).string(), shards[i], {{"format", "pt"}});
  }
  json::Object index{{"metadata", json::Object{{"total_size", json::Value(static_cast<int64_t>(total_bytes))}}},
                     {"weight_map", std::move(weight_map)}};
  write_text(root / "model.safetensors.index.json", json::stringify(json::Value(std::move(index)), 2) + "\n");
  return out;
}

}  // namespace alp::model
