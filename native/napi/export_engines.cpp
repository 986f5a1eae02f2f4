#include "napi/export_engines.hpp"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "core/engine_manifest.hpp"
#include "export/export_engines.hpp"
#include "napi/errors.hpp"
#if defined(ALPAMAYO_HAVE_TENSORRT) && defined(ALPAMAYO_HAVE_ONNXPARSER)
#include "backends/trt/engine_builder.hpp"
#endif

namespace alp::napi {

namespace {

std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw_error(info.Env(), ErrorCode::InvalidInput, std::string("exportEngines: ") + what + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

#if defined(ALPAMAYO_HAVE_TENSORRT) && defined(ALPAMAYO_HAVE_ONNXPARSER)
void build_all(engine::EngineManifest& m, const std::string& dir, const std::function<void(const std::string&)>& say) {
  for (auto& [name, e] : m.engines) {
    say("building " + e.file + " (TensorRT)");
    std::string last_phase;
    const trt::BuildResult r = trt::build_engine(
        dir + "/" + e.onnx, dir + "/" + e.file, e.precision, e.profiles,
        [&](std::string_view phase, int32_t step, int32_t total) {
          if (phase != last_phase) say("  " + std::string(phase) + " (" + std::to_string(total) + " steps)");
          last_phase = std::string(phase);
          (void)step;
          return true;
        });
    e.tensorrt_version = r.tensorrt_version;
    e.compute_capability = r.compute_capability;
    e.sha256 = r.sha256;
    e.built = true;
  }
}
#endif

}  // namespace

Napi::Value ExportEngines(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const std::string checkpoint = string_arg(info, 0, "checkpoint");
    const std::string out = string_arg(info, 1, "outDir");
    const Precision precision = parse_precision(string_arg(info, 2, "precision"));
    exporter::ModelExportOptions o;
    if (info.Length() > 3 && info[3].IsArray()) {
      const Napi::Array a = info[3].As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        if (!a.Get(i).IsString()) throw_error(env, ErrorCode::InvalidInput, "exportEngines: profiles must be strings");
        auto [k, r] = exporter::parse_dim_range(a.Get(i).As<Napi::String>().Utf8Value());
        o.dim_ranges[k] = r;
      }
    }
    if (info.Length() > 4 && info[4].IsString()) o.reference_dir = info[4].As<Napi::String>().Utf8Value();
    Napi::Function progress = info.Length() > 5 && info[5].IsFunction() ? info[5].As<Napi::Function>() : Napi::Function();
    auto say = [&](const std::string& msg) {
      if (!progress.IsEmpty()) progress.Call({Napi::String::New(env, msg)});
    };
    o.progress = say;
    // { activationAmax?, referenceCases?: 'all' | 'real', referenceFrames?, exportOnly? }
    bool export_only = false;
    if (info.Length() > 6 && !info[6].IsUndefined()) {
      if (!info[6].IsObject()) throw_error(env, ErrorCode::InvalidInput, "exportEngines: options must be an object");
      Napi::Object x = info[6].As<Napi::Object>();
      if (x.Has("activationAmax") && !x.Get("activationAmax").IsUndefined()) {
        if (!x.Get("activationAmax").IsObject())
          throw_error(env, ErrorCode::InvalidInput, "exportEngines: activationAmax must be an object");
        Napi::Object a = x.Get("activationAmax").As<Napi::Object>();
        Napi::Array keys = a.GetPropertyNames();
        std::map<std::string, float> amax;
        for (uint32_t i = 0; i < keys.Length(); ++i) {
          const std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
          Napi::Value v = a.Get(k);
          const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1.0;
          if (!(d >= 0.0) || !std::isfinite(d))
            throw_error(env, ErrorCode::InvalidInput, "exportEngines: activationAmax['" + k + "']: expected a finite number >= 0");
          amax[k] = static_cast<float>(d);
        }
        o.activation_amax = std::move(amax);
      }
      if (x.Has("referenceCases") && !x.Get("referenceCases").IsUndefined()) {
        const std::string c = x.Get("referenceCases").ToString().Utf8Value();
        if (c != "all" && c != "real")
          throw_error(env, ErrorCode::InvalidInput, "exportEngines: referenceCases: expected 'all' or 'real', got '" + c + "'");
        o.reference_trace_cases = c == "all";
      }
      if (x.Has("referenceFrames") && !x.Get("referenceFrames").IsUndefined()) {
        const double f = x.Get("referenceFrames").ToNumber().DoubleValue();
        if (!(f >= 1 && f <= 16) || f != std::floor(f))
          throw_error(env, ErrorCode::InvalidInput, "exportEngines: referenceFrames: expected an integer 1..16");
        o.reference_prefill_frames = static_cast<int>(f);
      }
      if (x.Has("exportOnly") && !x.Get("exportOnly").IsUndefined()) {
        if (!x.Get("exportOnly").IsBoolean()) throw_error(env, ErrorCode::InvalidInput, "exportEngines: exportOnly must be a boolean");
        export_only = x.Get("exportOnly").As<Napi::Boolean>().Value();
      }
    }

    exporter::EngineBuilder build;
#if defined(ALPAMAYO_HAVE_TENSORRT) && defined(ALPAMAYO_HAVE_ONNXPARSER)
    build = [&](engine::EngineManifest& m, const std::string& dir) { build_all(m, dir, say); };
#endif
    const exporter::ExportEnginesResult r = exporter::export_engines(checkpoint, out, precision, o, export_only, build);
    Napi::Object res = Napi::Object::New(env);
    res.Set("manifest", json::stringify(engine::manifest_to_json(r.manifest), 2));
    res.Set("built", r.built);
    Napi::Array cmds = Napi::Array::New(env);
    uint32_t i = 0;
    for (const std::string& c : r.trtexec) cmds.Set(i++, c);
    res.Set("trtexec", cmds);
    return res;
  });
}

}  // namespace alp::napi
