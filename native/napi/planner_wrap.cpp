#include "napi/planner_wrap.hpp"

#include <array>
#include <cstring>

#include "napi/convert.hpp"
#include "napi/job_channel.hpp"

namespace alp::napi {

namespace {

Napi::Object timings_to_js(Napi::Env env, const pipeline::Timings& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("preprocessMs", t.preprocess_ms);
  o.Set("visionMs", t.vision_ms);
  o.Set("prefillMs", t.prefill_ms);
  o.Set("reasoningMs", t.reasoning_ms);
  o.Set("actionMs", t.action_ms);
  o.Set("totalMs", t.total_ms);
  return o;
}

Napi::Object result_to_js(Napi::Env env, const pipeline::PlanResult& r) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array tokens = Napi::Array::New(env, r.tokens.size());
  for (size_t s = 0; s < r.tokens.size(); ++s) tokens.Set(static_cast<uint32_t>(s), to_int32_array(env, r.tokens[s]));
  o.Set("tokens", tokens);
  o.Set("positions", to_float64_array(env, r.positions));
  o.Set("rotations", to_float64_array(env, r.rotations));
  o.Set("timestamps", to_float64_array(env, r.timestamps));
  o.Set("accel", to_float64_array(env, r.accel));
  o.Set("curvature", to_float64_array(env, r.curvature));
  o.Set("normalized", to_float32_array(env, r.normalized));
  o.Set("v0", r.v0);
  o.Set("timings", timings_to_js(env, r.timings));
  return o;
}

// A request plus the frame bytes it reads. By default plan() copies the frames here, synchronously:
// the caller may mutate, transfer or free its buffers the moment plan() returns, and a transferred
// (detached) ArrayBuffer's memory can be freed under a running plan, which would crash the process.
// With `framesOwned` lib/ has already moved the frames into ArrayBuffers only it references (zero
// copy; the request object keeps them alive until the job settles), so they are borrowed as they are.
struct OwnedRequest {
  pipeline::PlanRequest request;
  std::shared_ptr<uint8_t[]> frame_bytes;  // from FrameBufferPool, filled by the copy below
};

}  // namespace

// Fresh memory for 16 1080p frames (95 MiB) costs ~200 ms of page faults on the JS thread; a buffer
// that was used before copies at memcpy speed. So the buffer of a finished plan is kept (one, the
// largest) for the next one; buffers of plans still queued are separate.
std::shared_ptr<uint8_t[]> FrameBufferPool::acquire(size_t n) {
  std::unique_ptr<uint8_t[]> buf;
  size_t cap = n;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->idle && state_->idle_size >= n) {
      buf = std::move(state_->idle);
      cap = state_->idle_size;
    }
  }
  if (!buf) buf.reset(new uint8_t[n]);  // default-initialised: the copy fills it
  std::weak_ptr<State> weak = state_;
  return std::shared_ptr<uint8_t[]>(buf.release(), [weak, cap](uint8_t* p) {
    std::unique_ptr<uint8_t[]> owned(p);
    if (auto st = weak.lock()) {
      std::lock_guard<std::mutex> lock(st->mu);
      if (!st->idle || st->idle_size < cap) {
        st->idle = std::move(owned);
        st->idle_size = cap;
      }
    }
  });
}

namespace {

std::shared_ptr<OwnedRequest> parse_request(Napi::Object req, FrameBufferPool& pool) {
  auto owned = std::make_shared<OwnedRequest>();
  pipeline::PlanRequest& r = owned->request;
  r.prompt_ids = int32_vector(req.Get("promptIds"), "promptIds");
  Napi::Value frames_v = req.Get("frames");
  if (!frames_v.IsArray()) throw_error(req.Env(), ErrorCode::InvalidInput, "frames: expected an array of 16 Uint8Array");
  Napi::Array frames = frames_v.As<Napi::Array>();
  auto widths = int32_vector(req.Get("widths"), "widths");
  auto heights = int32_vector(req.Get("heights"), "heights");
  if (frames.Length() != 16 || widths.size() != 16 || heights.size() != 16)
    throw_error(req.Env(), ErrorCode::InvalidInput, "frames: expected 16 frames with 16 widths and heights");
  const bool borrow = req.Has("framesOwned") && req.Get("framesOwned").ToBoolean().Value();
  std::array<Napi::Uint8Array, 16> views;
  size_t total = 0;
  for (uint32_t i = 0; i < 16; ++i) {
    Napi::Value f = frames.Get(i);
    if (!f.IsTypedArray() || f.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw_error(req.Env(), ErrorCode::InvalidInput, "frames[" + std::to_string(i) + "]: expected a Uint8Array");
    Napi::Uint8Array a = f.As<Napi::Uint8Array>();
    const int64_t need = int64_t{widths[i]} * heights[i] * 3;
    if (widths[i] < 1 || heights[i] < 1 || static_cast<int64_t>(a.ByteLength()) != need)
      throw_error(req.Env(), ErrorCode::InvalidInput,
                  "frames[" + std::to_string(i) + "]: byteLength " + std::to_string(a.ByteLength()) +
                      " != width*height*3 = " + std::to_string(need) + " (a detached buffer has length 0)");
    views[i] = a;
    total += a.ByteLength();
  }
  if (!borrow) owned->frame_bytes = pool.acquire(total);
  size_t at = 0;
  for (uint32_t i = 0; i < 16; ++i) {
    const uint8_t* src = views[i].Data();
    if (!borrow) {
      std::memcpy(owned->frame_bytes.get() + at, src, views[i].ByteLength());
      src = owned->frame_bytes.get() + at;
      at += views[i].ByteLength();
    }
    r.frames[i] = {src, widths[i], heights[i]};
  }
  r.ego_history = float64_vector(req.Get("egoHistory"), "egoHistory");
  r.samples = int_field(req, "samples");
  if (req.Has("sampleBatch") && !req.Get("sampleBatch").IsUndefined()) r.sample_batch = int_field(req, "sampleBatch");
  r.seed = static_cast<uint32_t>(req.Get("seed").As<Napi::Number>().Int64Value());
  r.diffusion_steps = int_field(req, "diffusionSteps");
  r.max_reasoning_tokens = int_field(req, "maxReasoningTokens");
  r.temperature = static_cast<float>(number_field(req, "temperature"));
  r.top_p = static_cast<float>(number_field(req, "topP"));
  if (req.Has("initialNoise") && !req.Get("initialNoise").IsUndefined())
    r.initial_noise = float32_vector(req.Get("initialNoise"), "initialNoise");
  if (req.Has("forcedTokens") && !req.Get("forcedTokens").IsUndefined())
    r.forced_tokens = int32_vector(req.Get("forcedTokens"), "forcedTokens");
  return owned;
}

}  // namespace

Napi::Function PlannerWrap::define(Napi::Env env) {
  return DefineClass(env, "Planner",
                     {InstanceMethod<&PlannerWrap::load>("load"), InstanceMethod<&PlannerWrap::plan>("plan"),
                      InstanceMethod<&PlannerWrap::dispose>("dispose"),
                      InstanceMethod<&PlannerWrap::activation_stats>("activationStats")});
}

PlannerWrap::PlannerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PlannerWrap>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw_error(env, ErrorCode::InvalidInput, "Planner: expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  options_.checkpoint = string_field(o, "checkpoint");
  if (o.Has("engines") && o.Get("engines").IsString()) options_.engines = o.Get("engines").As<Napi::String>();
  options_.backend = string_field(o, "backend");
  options_.precision = string_field(o, "precision");
  options_.device = int_field(o, "device");
  options_.threads = int_field(o, "threads");
  // FP8 calibration (lib/calibrateActivations.ts): the CPU executor's linears are watched in real plans.
  if (o.Has("calibrate") && o.Get("calibrate").ToBoolean().Value()) {
    if (options_.backend != "cpu" || options_.precision != "fp32")
      throw_error(env, ErrorCode::InvalidInput, "Planner: calibrate needs backend 'cpu' and precision 'fp32'");
    options_.wrap_ops = [this](std::unique_ptr<model::Ops> cpu) -> std::unique_ptr<model::Ops> {
      auto rec = std::make_unique<exporter::AmaxRecorder>(std::move(cpu));
      recorder_ = rec.get();
      return rec;
    };
  }
  worker_ = std::make_unique<WorkerThread>();
  // At environment teardown (process exit, worker termination) a running plan is aborted and joined
  // before the native planner goes away.
  napi_add_env_cleanup_hook(env, &PlannerWrap::cleanup, this);
}

PlannerWrap::~PlannerWrap() {
  // Finalizers run before env teardown hooks, so the hook is still registered here.
  napi_remove_env_cleanup_hook(env_, &PlannerWrap::cleanup, this);
  shutdown();
}

void PlannerWrap::shutdown() noexcept {
  {
    std::lock_guard<std::mutex> lock(abort_mu_);
    if (running_abort_) running_abort_->store(true);
  }
  if (worker_) worker_->stop();
  worker_.reset();
  planner_.reset();
}

Napi::Value PlannerWrap::load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed_) throw_error(env, ErrorCode::Disposed, "planner is disposed");
  JobChannel* ch = JobChannel::create(env, Napi::Function(), Napi::Object());
  worker_->post([this, ch] {
    try {
      planner_ = pipeline::Planner::load(options_);
      auto info = planner_->info();
      std::string config = json::stringify(planner_->config());
      int64_t per_image = planner_->image_tokens_per_image();
      int64_t max_positions = planner_->max_positions();
      ch->finish([info, config, per_image, max_positions](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("backend", info.backend);
        o.Set("precision", info.precision);
        o.Set("device", info.device);
        o.Set("modelConfig", config);
        o.Set("imageTokensPerImage", static_cast<double>(per_image));
        o.Set("maxPositions", static_cast<double>(max_positions));
        return o;
      });
    } catch (...) {
      ch->fail(current_exception_info());
    }
  });
  return ch->promise();
}

Napi::Value PlannerWrap::plan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed_) throw_error(env, ErrorCode::Disposed, "planner is disposed");
  if (info.Length() < 1 || !info[0].IsObject()) throw_error(env, ErrorCode::InvalidInput, "plan: expected a request object");
  Napi::Object req_obj = info[0].As<Napi::Object>();
  std::shared_ptr<OwnedRequest> req = parse_request(req_obj, frame_buffers_);
  Napi::Function on_tokens = info.Length() > 1 && info[1].IsFunction() ? info[1].As<Napi::Function>() : Napi::Function();
  // The request object keeps the frames' ArrayBuffers alive until the promise settles.
  JobChannel* ch = JobChannel::create(env, on_tokens, req_obj);
  auto abort = std::make_shared<std::atomic<bool>>(false);
  Ref();  // the wrapper must outlive the job: unreferenced when the promise settles (below)
  worker_->post([this, ch, req, abort] {
    {
      std::lock_guard<std::mutex> lock(abort_mu_);
      running_abort_ = abort;
    }
    try {
      if (!planner_) throw Error(ErrorCode::Internal, "plan() before load() completed");
      if (abort->load()) throw Error(ErrorCode::Aborted, "plan aborted before it started");
      auto result = std::make_shared<pipeline::PlanResult>(
          planner_->plan(req->request, [ch](int sample, int32_t id) { ch->token(sample, id); }, *abort));
      ch->finish([result](Napi::Env env) -> Napi::Value { return result_to_js(env, *result); });
    } catch (...) {
      ch->fail(current_exception_info());
    }
    std::lock_guard<std::mutex> lock(abort_mu_);
    running_abort_.reset();
  });
  Napi::Object handle = Napi::Object::New(env);
  Napi::Promise promise = ch->promise();
  // Unref once settled, on the JS thread.
  Napi::Function unref = Napi::Function::New(env, [this](const Napi::CallbackInfo& i) -> Napi::Value {
    Unref();
    return i.Env().Undefined();
  });
  promise.Get("then").As<Napi::Function>().Call(promise, {unref, unref});
  handle.Set("promise", promise);
  handle.Set("abort", Napi::Function::New(env, [abort](const Napi::CallbackInfo& i) -> Napi::Value {
               abort->store(true);
               return i.Env().Undefined();
             }));
  return handle;
}

Napi::Value PlannerWrap::activation_stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed_) throw_error(env, ErrorCode::Disposed, "planner is disposed");
  JobChannel* ch = JobChannel::create(env, Napi::Function(), Napi::Object());
  // A job like plan(): it runs after the plans queued before it, on the thread that runs them.
  worker_->post([this, ch] {
    if (!recorder_ || !planner_) {
      try {
        throw Error(ErrorCode::InvalidInput, "activationStats: the planner was not loaded with { calibrate: true }");
      } catch (...) {
        ch->fail(current_exception_info());
      }
      return;
    }
    auto s = std::make_shared<exporter::ActivationStats>(recorder_->stats());
    ch->finish([s](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env), amax = Napi::Object::New(env), rows = Napi::Object::New(env),
                   calls = Napi::Object::New(env);
      for (const auto& [k, v] : s->amax) amax.Set(k, static_cast<double>(v));
      for (const auto& [k, v] : s->rows) rows.Set(k, static_cast<double>(v));
      for (const auto& [k, v] : s->calls) calls.Set(k, static_cast<double>(v));
      o.Set("amax", amax);
      o.Set("rows", rows);
      o.Set("calls", calls);
      return o;
    });
  });
  return ch->promise();
}

Napi::Value PlannerWrap::dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  disposed_ = true;
  JobChannel* ch = JobChannel::create(env, Napi::Function(), Napi::Object());
  if (!worker_) {
    ch->finish({});
    return ch->promise();
  }
  // Runs after the plan in flight (jobs are FIFO), so the native planner is freed only when idle.
  worker_->post([this, ch] {
    recorder_ = nullptr;
    planner_.reset();
    ch->finish({});
  });
  return ch->promise();
}

}  // namespace alp::napi
