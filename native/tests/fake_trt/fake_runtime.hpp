#pragma once
// A recording fake of the CUDA runtime and of TensorRT's nvinfer1 runtime, for running the TensorRT
// runner (native/backends/trt) on a machine with neither a GPU nor TensorRT.
//
// - CUDA (fake_cuda_runtime.cpp): the cuda* entry points the runner and backends/cuda/resources.cpp
//   call, defined against the real CUDA headers. "Device" memory is host memory tagged with its
//   device; streams remember the device current when they were created; work runs when submitted
//   (or is recorded while the stream captures a graph and runs at each cudaGraphLaunch). Work
//   submitted and not yet synchronised is "in flight" on its stream.
// - TensorRT (fake_nvinfer.cpp, declarations in fake_nvinfer_api.hpp): engines are described by
//   the exporter's manifest (I/O names, dtypes, static shapes, profiles); a plan file names its
//   engine. Contexts record profiles, shapes and addresses; enqueueV3 checks them and writes the
//   outputs (logits, velocity, KV rows, embeddings) by the rules below, so the runner's results
//   can be checked against the host.
//
// Every broken rule is recorded as a Violation (and the call fails where TensorRT's would).
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/engine_manifest.hpp"

namespace fake {

// Rule names, as reported in Violation::rule.
inline constexpr const char* kBoundBeforeEnqueue = "address bound before enqueue";
inline constexpr const char* kAlignment = "256-byte aligned address";
inline constexpr const char* kBufferBounds = "tensor inside one device allocation of its device";
inline constexpr const char* kGraphAddresses = "addresses unchanged between enqueues captured into one graph";
inline constexpr const char* kStreamDevice = "stream on the current device";
inline constexpr const char* kProfileBeforeShape = "profile selected before input shapes";
inline constexpr const char* kProfileInFlight = "no two in-flight contexts on one profile or one activation block";
inline constexpr const char* kShapeInProfile = "input shapes within the profile's min/max";
inline constexpr const char* kShapesSpecified = "every input shape set before enqueue";
inline constexpr const char* kContextMemory = "user-managed context memory bound, large enough";
inline constexpr const char* kWarmupBeforeCapture = "an enqueue at the same shapes before capturing one";
inline constexpr const char* kCaptureMode = "thread-local capture mode";
inline constexpr const char* kCaptureUnsafe = "no allocation or synchronisation while capturing";
inline constexpr const char* kKvContents = "past rows hold what earlier calls wrote";
inline constexpr const char* kOverlap = "an output overlaps no other tensor unless TensorRT aliases them";
inline constexpr const char* kApi = "API used as documented";

struct Violation {
  std::string rule;
  std::string detail;
};

// ---- configuration (before the runner is constructed) ------------------------------------------
struct Config {
  int device_count = 2;
  int cc_major = 9, cc_minor = 0;
  std::string gpu_name = "Fake H100";
  int trt_major = 10, trt_minor = 16, trt_patch = 0;
  // The exporter's manifest: the fake engines' I/O and profiles.
  alp::engine::EngineManifest manifest;
  // Vision output rows per patch group (spatial_merge_size²): image_embeds rows = patches / merge.
  int64_t merge_unit = 4;
  // A lane whose last input id is this gets logits with a NaN at nan_logit_index (-1: never), for the
  // selection's non-finite error.
  int64_t nan_after_id = -1;
  int64_t nan_logit_index = 0;
};
// Resets all state (allocations must all have been freed) and installs `c`.
void configure(Config c);

// The plan file content that names engine `name` for deserializeCudaEngine.
std::string plan_bytes(const std::string& engine_name);

// ---- what the runner did ------------------------------------------------------------------------
std::vector<Violation> violations();
void clear_violations();
std::string violations_text();  // one line per violation, "" when none

struct Counters {
  int64_t enqueues = 0;           // enqueueV3 calls that succeeded (captured ones included)
  int64_t captured_enqueues = 0;  // of which inside a stream capture
  int64_t graph_launches = 0;
  int64_t graph_enqueue_replays = 0;  // engine runs performed by graph launches
  int64_t contexts = 0, engines = 0;
  int64_t profile_selections = 0;
  int64_t plan_bytes_read_to_device = 0;  // IStreamReaderV2::read into device memory
  std::map<std::string, int64_t> runs_per_engine;  // engine executions (direct + replayed)
  int64_t live_allocations = 0;  // device + pinned, now
  int64_t streams_created = 0;
};
Counters counters();

// ---- output rules (what the fake engines compute) ----------------------------------------------
// logits: per row (lane), logit(that lane's last input id, i, vocab) for every id i: 4.0 at
// next_token(last id), elsewhere 2 sin(0.37 i + last id) (below 4: greedy picks next_token; sampled
// draws spread over many ids), a NaN where Config::nan_after_id says.
int64_t next_token(int64_t last_id, int64_t vocab);
float logit(int64_t last_id, int64_t i, int64_t vocab);
// velocity[i] = t + velocity_bias(i), t the value bound to `t` (i % 2: the same for every lane).
float velocity_bias(int64_t i);
// KV rows the llm writes: every byte of row `pos` of layer `layer`'s K (value = false) or V block.
// (In place, the rows expert_step writes past each lane's prefix hold kExpertRowByte instead.)
uint8_t kv_row_byte(int64_t layer, bool value, int64_t pos);
inline constexpr uint8_t kExpertRowByte = 0xfb;

// ---- used by the fake nvinfer and the fake kernels ------------------------------------------------
const Config& config();
Counters& counters_mut();  // callers hold no lock: the runner under test is single-threaded here
void violation(const char* rule, std::string detail);
int current_device();
int stream_device(void* stream);  // the device a stream was created on (the default stream: current)
// The device allocation holding [p, p + bytes), or false (recording nothing).
struct Allocation {
  uintptr_t base = 0;
  size_t bytes = 0;
  int device = -1;
  bool pinned = false;
};
bool find_allocation(const void* p, size_t bytes, Allocation* out);

// Something that occupies an engine profile and an activation block while in flight.
struct InFlight {
  const void* context = nullptr;
  const void* engine = nullptr;
  int profile = 0;
  uintptr_t memory_lo = 0, memory_hi = 0;  // [lo, hi) of the context's activation memory; 0 = own
  std::string label;
};
// Submits `run` on `stream`: run now, or record it into the stream's capture. `in_flight` (when its
// context is set) is checked against the work in flight on other streams when it runs.
struct Work {
  std::string what;
  InFlight in_flight;
  bool is_engine = false;
  std::function<void()> run;
};
// Plain stream work (a copy, a kernel): no engine, nothing that occupies a profile.
inline Work stream_work(std::string what, std::function<void()> run) {
  Work w;
  w.what = std::move(what);
  w.run = std::move(run);
  return w;
}
// false when the stream is invalid or on another device (recorded); `captured` tells which happened.
bool submit(void* stream, Work work, bool* captured);
// Non-zero while `stream` captures a graph: an id of that capture.
uint64_t capture_id(void* stream);

}  // namespace fake
