#pragma once
// The road from a worker-thread job back to JavaScript: a promise settled on the JS thread, an optional
// progress callback (streamed token ids) and the JS objects the job borrows memory from. One channel per
// job; it owns itself and is freed by the thread-safe function's finalizer on the JS thread.
#include <napi.h>

#include <functional>
#include <memory>
#include <optional>

#include "napi/errors.hpp"

namespace alp::napi {

struct ChannelMsg {
  enum class Kind { Token, Done } kind = Kind::Token;
  int sample = 0;
  int32_t token = 0;
};

class JobChannel {
 public:
  using Resolver = std::function<Napi::Value(Napi::Env)>;

  // `progress` may be empty. `borrowed` is kept referenced until the job is settled.
  static JobChannel* create(Napi::Env env, Napi::Function progress, Napi::Object borrowed);
  Napi::Promise promise() const { return deferred_.Promise(); }

  // Worker thread. Tokens are queued in order; after finish() the channel must not be used again.
  void token(int sample, int32_t id);
  void finish(Resolver resolver);
  void fail(ErrorInfo error);

 private:
  struct Tsfn;
  explicit JobChannel(Napi::Env env);
  static void call_js(Napi::Env env, Napi::Function cb, JobChannel* ch, ChannelMsg* msg);
  void settle(Napi::Env env);

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference borrowed_;
  Resolver resolver_;
  std::optional<ErrorInfo> error_;
  Napi::TypedThreadSafeFunction<JobChannel, ChannelMsg, &JobChannel::call_js> tsfn_;
};

}  // namespace alp::napi
