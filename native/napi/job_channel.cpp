#include "napi/job_channel.hpp"

namespace alp::napi {

namespace {

// False while the environment refuses to run JavaScript (a worker being terminated, process exit).
// node-addon-api's throwing wrappers must not run then: their failure path (Error::New) aborts the
// process when it cannot even build the error. napi_strict_equals is side-effect free and, like every
// call that may run JS, returns napi_pending_exception / napi_cannot_run_js in that state.
bool can_run_js(napi_env env) {
  napi_value undefined = nullptr;
  bool same = false;
  return napi_get_undefined(env, &undefined) == napi_ok && napi_strict_equals(env, undefined, undefined, &same) == napi_ok;
}

}  // namespace

JobChannel::JobChannel(Napi::Env env) : deferred_(Napi::Promise::Deferred::New(env)) {}

JobChannel* JobChannel::create(Napi::Env env, Napi::Function progress, Napi::Object borrowed) {
  auto* ch = new JobChannel(env);  // freed by the finalizer below, which N-API always runs
  if (!borrowed.IsEmpty()) ch->borrowed_ = Napi::Persistent(borrowed);
  auto finalize = [](Napi::Env, void*, JobChannel* self) { delete self; };
  if (progress.IsEmpty()) {
    ch->tsfn_ = decltype(ch->tsfn_)::New(env, "alpamayo-trt.job", 0, 1, ch, finalize, static_cast<void*>(nullptr));
  } else {
    ch->tsfn_ = decltype(ch->tsfn_)::New(env, progress, "alpamayo-trt.job", 0, 1, ch, finalize,
                                          static_cast<void*>(nullptr));
  }
  return ch;
}

void JobChannel::token(int sample, int32_t id) {
  // A closing environment (process exit) refuses calls; the message is then simply dropped.
  auto* msg = new ChannelMsg{ChannelMsg::Kind::Token, sample, id};
  if (tsfn_.BlockingCall(msg) != napi_ok) delete msg;
}

void JobChannel::finish(Resolver resolver) {
  resolver_ = std::move(resolver);
  auto* msg = new ChannelMsg{ChannelMsg::Kind::Done, 0, 0};
  if (tsfn_.BlockingCall(msg) != napi_ok) delete msg;
  tsfn_.Release();
}

void JobChannel::fail(ErrorInfo error) {
  error_ = std::move(error);
  auto* msg = new ChannelMsg{ChannelMsg::Kind::Done, 0, 0};
  if (tsfn_.BlockingCall(msg) != napi_ok) delete msg;
  tsfn_.Release();
}

void JobChannel::call_js(Napi::Env env, Napi::Function cb, JobChannel* ch, ChannelMsg* msg) {
  std::unique_ptr<ChannelMsg> owned(msg);
  if (env == nullptr || msg == nullptr) return;  // environment tearing down
  if (!can_run_js(env)) return;  // the promise stays pending: nobody is left to observe it
  // Nothing may escape this C callback (std::terminate). While a worker thread is being terminated
  // every call into JS fails, and so does Error::ThrowAsJavaScriptException, which then throws again.
  try {
    if (msg->kind == ChannelMsg::Kind::Token) {
      if (cb.IsEmpty()) return;
      Napi::Int32Array ids = Napi::Int32Array::New(env, 1);
      ids[0] = msg->token;
      cb.Call({Napi::Number::New(env, msg->sample), ids});
      return;
    }
    ch->settle(env);
  } catch (const Napi::Error& e) {
    // A throwing onToken must not take the process down: the plan goes on and the error surfaces as an
    // uncaught exception report, like any other event-listener error. The status is ignored on purpose:
    // when even this fails the environment is going away and nobody is left to tell.
    if (!e.IsEmpty()) napi_throw(env, e.Value());
  } catch (...) {
    // Same reasoning: a failure here can only come from a dying environment.
  }
}

void JobChannel::settle(Napi::Env env) {
  Napi::HandleScope scope(env);
  if (error_) {
    deferred_.Reject(make_error(env, *error_).Value());
  } else {
    try {
      deferred_.Resolve(resolver_ ? resolver_(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      deferred_.Reject(make_error(env, {ErrorCode::Internal, e.what()}).Value());
    }
  }
  if (!borrowed_.IsEmpty()) borrowed_.Reset();
}

}  // namespace alp::napi
