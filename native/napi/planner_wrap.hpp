#pragma once
// JS class `Planner` of the addon (lib/ wraps it; users never see it). Owns the native planner and
// the worker thread it runs on. Camera frames are copied at plan() unless lib/ transferred them into
// buffers only it holds (see OwnedRequest in planner_wrap.cpp).
#include <napi.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "export/activation_calibration.hpp"
#include "napi/worker_thread.hpp"
#include "pipeline/planner.hpp"

namespace alp::napi {

// Reuses the frame-copy buffer of the last finished plan (see planner_wrap.cpp). Thread-safe: buffers
// come back from whichever thread drops the last reference, also after the pool is gone.
class FrameBufferPool {
 public:
  std::shared_ptr<uint8_t[]> acquire(size_t n);

 private:
  struct State {
    std::mutex mu;
    std::unique_ptr<uint8_t[]> idle;
    size_t idle_size = 0;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

class PlannerWrap : public Napi::ObjectWrap<PlannerWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit PlannerWrap(const Napi::CallbackInfo& info);
  ~PlannerWrap() override;

 private:
  Napi::Value load(const Napi::CallbackInfo& info);
  Napi::Value plan(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  // { amax, rows, calls } per linear weight name over every plan so far; only with { calibrate: true }.
  Napi::Value activation_stats(const Napi::CallbackInfo& info);
  void shutdown() noexcept;  // abort + join; used by the destructor and the env cleanup hook
  static void cleanup(void* self) { static_cast<PlannerWrap*>(self)->shutdown(); }

  pipeline::LoadOptions options_;
  // Touched only by jobs on worker_ (and by shutdown() after the worker is joined).
  std::unique_ptr<pipeline::Planner> planner_;
  exporter::AmaxRecorder* recorder_ = nullptr;  // inside planner_'s executor, with { calibrate: true }
  std::mutex abort_mu_;
  std::shared_ptr<std::atomic<bool>> running_abort_;  // abort flag of the plan on the worker
  bool disposed_ = false;
  FrameBufferPool frame_buffers_;
  std::unique_ptr<WorkerThread> worker_;
  Napi::Env env_;
};

}  // namespace alp::napi
