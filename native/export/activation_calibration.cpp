#include "export/activation_calibration.hpp"

#include <algorithm>
#include <cmath>

#include "backends/cpu/cpu_ops.hpp"
#include "export/export_graphs.hpp"
#include "export/sample_scene.hpp"
#include "model/backbone.hpp"

namespace alp::exporter {

model::Value AmaxRecorder::weight_impl(std::string_view name) {
  model::Value v = ForwardingOps::weight_impl(name);
  std::lock_guard<std::mutex> lock(mu_);
  names_[v.get()] = std::string(name);
  return v;
}

model::Value AmaxRecorder::reshape_impl(const model::Value& x, const Shape& target, const Shape& out) {
  model::Value y = ForwardingOps::reshape_impl(x, target, out);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = names_.find(x.get()); it != names_.end()) names_[y.get()] = it->second;
  return y;
}

model::Value AmaxRecorder::linear_impl(const model::Value& x, const model::Value& w, const model::Value& b, const Shape& out) {
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = names_.find(w.get()); it != names_.end()) name = it->second;
  }
  if (!name.empty()) {
    float m = 0.0f;
    for (float v : cpu::CpuOps::values(x)) m = std::max(m, std::fabs(v));
    const int64_t rows = x->shape.empty() ? 1 : shape_numel(x->shape) / x->shape.back();
    std::lock_guard<std::mutex> lock(mu_);
    float& slot = stats_.amax[name];
    slot = std::max(slot, m);
    int64_t& r = stats_.rows[name];
    r = std::max(r, rows);
    ++stats_.calls[name];
  }
  return ForwardingOps::linear_impl(x, w, b, out);
}

std::map<std::string, float> AmaxRecorder::amax() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_.amax;
}

ActivationStats AmaxRecorder::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::map<std::string, float> calibrate_activation_amax(const model::ModelConfig& cfg, const model::WeightSource& weights,
                                                       int runs) {
  std::map<std::string, float> amax;
  for (int r = 0; r < runs; ++r) {
    // Fresh executor per run: weights are converted once per run, the cache starts empty.
    cpu::CpuOps cpu(weights, cpu::CpuOptions{Precision::FP32, 0});
    AmaxRecorder rec(cpu);
    const SampleScene s = sample_scene(cfg, {1, 4, 6 + 2 * r}, 12 + 3 * r, 0xCA1B0000u + static_cast<uint64_t>(r));
    const int64_t n = static_cast<int64_t>(s.ids.size());
    model::reserve_kv_cache(rec, cfg, n + 4);
    ImageFeatures img = vision_graph(rec, cfg, s.pixels, s.grid);
    llm_graph(rec, cfg, s.ids, 0, s.rope.pos, &img);
    const int64_t next[1] = {s.ids[1]};
    llm_graph(rec, cfg, next, n, model::MropePositions::uniform(n + s.rope.rope_delta, 1), nullptr);
    for (float t : {0.0f, 0.5f, 0.9f}) expert_graph(rec, cfg, s.noise, t, n + 1, s.rope.rope_delta);
    for (const auto& [k, v] : rec.amax()) amax[k] = std::max(amax[k], v);
  }
  return amax;
}

}  // namespace alp::exporter
