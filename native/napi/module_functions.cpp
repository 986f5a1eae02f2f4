#include "napi/module_functions.hpp"

#include <cmath>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/checkpoint.hpp"
#include "model/buffers.hpp"
#include "model/checkpoint_writer.hpp"
#include "model/config.hpp"
#include "model/history_tokens.hpp"
#include "model/preprocess.hpp"
#include "model/token_layout.hpp"
#include "model/trajectory.hpp"
#include "napi/convert.hpp"
#include "napi/errors.hpp"
#include "pipeline/planner.hpp"
#include "napi/export_engines.hpp"

namespace alp::napi {

namespace {

model::ModelConfig config_arg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsString()) throw_error(info.Env(), ErrorCode::InvalidInput, "modelConfig: expected JSON text");
  return model::parse_model_config(json::parse(info[i].As<Napi::String>().Utf8Value()));
}

// The trajectory helpers' action space: the model config's, or the release constants for null/undefined.
model::ActionSpaceConfig action_space_arg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsNull() || info[i].IsUndefined()) return model::ActionSpaceConfig{};
  return config_arg(info, i).action_space;
}

std::vector<model::Pose> poses_arg(const Napi::CallbackInfo& info, size_t i) {
  return model::to_ego_frame(pipeline::ego_history_poses(float64_vector(info[i], "egoHistory")));
}

Napi::Object poses_to_js(Napi::Env env, const std::vector<model::Pose>& poses) {
  std::vector<double> pos, rot, ts;
  for (const auto& p : poses) {
    pos.insert(pos.end(), p.p, p.p + 3);
    rot.insert(rot.end(), p.R, p.R + 9);
    ts.push_back(p.t);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("positions", to_float64_array(env, pos));
  o.Set("rotations", to_float64_array(env, rot));
  o.Set("timestamps", to_float64_array(env, ts));
  return o;
}

Napi::Value TokenLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    // Added tokens only: ids below kByteTokens are the byte-level base vocabulary, which the
    // tokenizer writer in lib/ lays out itself.
    Napi::Array out = Napi::Array::New(env);
    uint32_t n = 0;
    for (const auto& t : model::token_layout()) {
      if (t.id < model::kByteTokens) continue;
      Napi::Object e = Napi::Object::New(env);
      e.Set("content", t.content);
      e.Set("id", static_cast<double>(t.id));
      e.Set("special", t.special);
      out.Set(n++, e);
    }
    return out;
  });
}

Napi::Value MakeCheckpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber())
      throw_error(env, ErrorCode::InvalidInput, "makeCheckpoint(dir, preset, seed)");
    auto w = model::write_random_checkpoint(info[0].As<Napi::String>(), info[1].As<Napi::String>().Utf8Value(),
                                            static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value()));
    Napi::Object o = Napi::Object::New(env);
    o.Set("parameters", static_cast<double>(w.parameters));
    o.Set("tensors", static_cast<double>(w.tensors));
    return o;
  });
}

Napi::Value InspectCheckpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) throw_error(env, ErrorCode::InvalidInput, "inspectCheckpoint(dir)");
    auto ckpt = Checkpoint::open(info[0].As<Napi::String>());
    model::load_model_config(*ckpt);  // validates the config and stored buffers as a planner would
    Napi::Object o = Napi::Object::New(env);
    Napi::Object json_ns = env.Global().Get("JSON").As<Napi::Object>();
    o.Set("config", json_ns.Get("parse").As<Napi::Function>().Call(json_ns, {Napi::String::New(env, json::stringify(ckpt->config()))}));
    Napi::Object comps = Napi::Object::New(env);
    double tensors = 0, bytes = 0;
    for (const auto& [name, size] : ckpt->component_sizes()) {
      Napi::Object c = Napi::Object::New(env);
      c.Set("tensors", static_cast<double>(size.tensors));
      c.Set("bytes", static_cast<double>(size.bytes));
      comps.Set(name, c);
      tensors += static_cast<double>(size.tensors);
      bytes += static_cast<double>(size.bytes);
    }
    o.Set("tensors", tensors);
    o.Set("bytes", bytes);
    o.Set("components", comps);
    return o;
  });
}

Napi::Value HistoryTokenIds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const model::ModelConfig cfg = config_arg(info, 1);
    model::HistoryTokenizerConfig hc;
    for (int k = 0; k < 3; ++k) {
      hc.xyz_min[k] = static_cast<float>(cfg.hist_dims_min[static_cast<size_t>(k)]);
      hc.xyz_max[k] = static_cast<float>(cfg.hist_dims_max[static_cast<size_t>(k)]);
    }
    hc.num_bins = static_cast<int>(cfg.hist_num_bins);
    const auto bins = model::history_bins(poses_arg(info, 0), hc);
    const auto ids = model::history_token_ids(bins, cfg.traj_token_start_idx, cfg.future_num_bins);
    return to_int32_array(env, std::vector<int32_t>(ids.begin(), ids.end()));
  });
}

Napi::Value EstimateInitialSpeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    return Napi::Number::New(env, model::estimate_v0(poses_arg(info, 0), action_space_arg(info, 1)));
  });
}

Napi::Value ActionsToTrajectory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const model::ActionSpaceConfig as = action_space_arg(info, 3);
    model::Controls c{float64_vector(info[0], "accel"), float64_vector(info[1], "curvature")};
    const size_t n = static_cast<size_t>(as.n_waypoints);
    if (c.accel.size() != n || c.curvature.size() != n)
      throw_error(env, ErrorCode::InvalidInput, "accel/curvature: expected " + std::to_string(n) + " values each");
    return poses_to_js(env, model::integrate(c, info[2].As<Napi::Number>().DoubleValue(), as));
  });
}

Napi::Value TrajectoryToActions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const model::ActionSpaceConfig as = action_space_arg(info, 3);
    const auto pos = float64_vector(info[0], "positions");
    const auto rot = float64_vector(info[1], "rotations");
    const size_t n = static_cast<size_t>(as.n_waypoints);
    if (pos.size() != n * 3 || rot.size() != n * 9)
      throw_error(env, ErrorCode::InvalidInput, "positions/rotations: expected " + std::to_string(n) + " poses");
    std::vector<model::Pose> poses(n);
    for (size_t i = 0; i < n; ++i) {
      poses[i].t = static_cast<double>(i + 1) * as.dt;
      std::copy(pos.begin() + i * 3, pos.begin() + i * 3 + 3, poses[i].p);
      std::copy(rot.begin() + i * 9, rot.begin() + i * 9 + 9, poses[i].R);
    }
    // The exact inverse of integrate(): actionsToTrajectory -> trajectoryToActions round-trips.
    const model::Controls c = model::poses_to_controls_exact(poses, info[2].As<Napi::Number>().DoubleValue(), as);
    Napi::Object o = Napi::Object::New(env);
    o.Set("accel", to_float64_array(env, c.accel));
    o.Set("curvature", to_float64_array(env, c.curvature));
    // As a plan result's actions.normalized: (control - mean) / std, interleaved, float32.
    const std::vector<double> normalized = model::normalize_controls(c, as);
    Napi::Float32Array f = Napi::Float32Array::New(env, normalized.size());
    for (size_t i = 0; i < normalized.size(); ++i) f[i] = static_cast<float>(normalized[i]);
    o.Set("normalized", f);
    return o;
  });
}

// The official processor's smart_resize (model/preprocess.hpp): the one implementation the prompt's
// image-token counts (lib/imageTokenCount.ts) and the planner's preprocessing share.
Napi::Value SmartResize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 5) throw_error(env, ErrorCode::InvalidInput, "smartResize(height, width, factor, minPixels, maxPixels)");
    double a[5];
    for (size_t i = 0; i < 5; ++i) {
      if (!info[i].IsNumber()) throw_error(env, ErrorCode::InvalidInput, "smartResize: argument " + std::to_string(i) + " must be a number");
      a[i] = info[i].As<Napi::Number>().DoubleValue();
      if (!(a[i] >= 1 && a[i] <= 9.0e15 && a[i] == std::floor(a[i])))
        throw_error(env, ErrorCode::InvalidInput, "smartResize: argument " + std::to_string(i) + " must be a positive integer");
    }
    if (a[0] > 1 << 30 || a[1] > 1 << 30 || a[2] > 1 << 20)
      throw_error(env, ErrorCode::InvalidInput, "smartResize: height/width/factor out of range");
    const model::ImageSize s = model::smart_resize(static_cast<int>(a[0]), static_cast<int>(a[1]), static_cast<int>(a[2]),
                                                   static_cast<int64_t>(a[3]), static_cast<int64_t>(a[4]));
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, static_cast<double>(s.height));
    out.Set(1u, static_cast<double>(s.width));
    return out;
  });
}

// glibc's own accounting of the C heap (every arena): bytes handed out and not yet freed, versus bytes
// the allocator holds. A leak raises inUse; fragmentation or retention raises only the others. RSS
// alone cannot tell them apart, so the soak reports both. Undefined off glibc.
Napi::Value NativeHeap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 m = mallinfo2();
  Napi::Object o = Napi::Object::New(env);
  o.Set("inUse", static_cast<double>(m.uordblks + m.hblkhd));
  o.Set("free", static_cast<double>(m.fordblks));
  o.Set("arena", static_cast<double>(m.arena));
  o.Set("mmapped", static_cast<double>(m.hblkhd));
  return o;
#else
  return env.Undefined();
#endif
}

}  // namespace

void register_module_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("tokenLayout", Napi::Function::New(env, TokenLayout, "tokenLayout"));
  exports.Set("makeCheckpoint", Napi::Function::New(env, MakeCheckpoint, "makeCheckpoint"));
  exports.Set("inspectCheckpoint", Napi::Function::New(env, InspectCheckpoint, "inspectCheckpoint"));
  exports.Set("historyTokenIds", Napi::Function::New(env, HistoryTokenIds, "historyTokenIds"));
  exports.Set("smartResize", Napi::Function::New(env, SmartResize, "smartResize"));
  exports.Set("estimateInitialSpeed", Napi::Function::New(env, EstimateInitialSpeed, "estimateInitialSpeed"));
  exports.Set("actionsToTrajectory", Napi::Function::New(env, ActionsToTrajectory, "actionsToTrajectory"));
  exports.Set("exportEngines", Napi::Function::New(env, ExportEngines, "exportEngines"));
  exports.Set("trajectoryToActions", Napi::Function::New(env, TrajectoryToActions, "trajectoryToActions"));
  exports.Set("nativeHeap", Napi::Function::New(env, NativeHeap, "nativeHeap"));
}

}  // namespace alp::napi
