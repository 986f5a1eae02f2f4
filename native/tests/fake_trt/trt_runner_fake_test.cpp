// The TensorRT runner (alp::trt::TrtExecutor) driven through model::Executor over the fake TensorRT
// and CUDA runtimes (fake_runtime.hpp): engines exported by our own exporter from a tiny checkpoint,
// then load and four requests as the planner makes them (images, prefill, ragged decode lanes,
// denoise; lane counts, step counts and image sizes varied). The fake records every call; the run
// must break none of its rules, and the results must be what the fake engines compute.
// A second case drives the fake directly with each misuse, so every rule is shown to fire.
#include <cuda_runtime_api.h>

#include <NvInferRuntime.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "backends/cuda/resources.hpp"
#include "backends/trt/trt_executor.hpp"
#include "core/checkpoint.hpp"
#include "core/engine_manifest.hpp"
#include "core/error.hpp"
#include "export/model_export.hpp"
#include "model/buffers.hpp"
#include "model/checkpoint_writer.hpp"
#include "model/expert.hpp"
#include "model/rope_tables.hpp"
#include "model/sampling.hpp"
#include "model/token_layout.hpp"
#include "tests/check.hpp"
#include "tests/fake_trt/fake_runtime.hpp"
#include "tests/temp_dir.hpp"

using namespace alp;

namespace {

namespace N = engine::names;

// A tiny checkpoint exported by export_models and "built" for the fake: plans that name their
// engine, stamped as build-engines stamps a TensorRT build.
struct Engines {
  test::TempDir dir;
  model::ModelConfig cfg;
  std::string config_sha;
  engine::EngineManifest manifest;
  std::string engine_dir() const { return dir.file("engines"); }

  explicit Engines(Precision precision = Precision::FP16) {
    model::write_random_checkpoint(dir.file("ckpt"), "tiny", 11);
    auto ckpt = Checkpoint::open(dir.file("ckpt"));
    cfg = model::load_model_config(*ckpt);
    config_sha = engine::config_sha256(ckpt->config());
    exporter::ModelExportOptions o;
    o.dim_ranges["patches"] = {4, 32, 64};
    o.dim_ranges["image_tokens"] = {0, 16, 32};
    o.dim_ranges["seq"] = {1, 32, 64};
    o.dim_ranges["past_len"] = {0, 48, 96};
    manifest = exporter::export_models(dir.file("ckpt"), engine_dir(), precision, o).manifest;
    for (auto& [name, e] : manifest.engines) {
      std::ofstream(engine_dir() + "/" + e.file, std::ios::binary) << fake::plan_bytes(name);
      e.built = true;
      e.tensorrt_version = "10.16.0";
      e.compute_capability = "sm_90";
    }
    engine::stamp_engine_files(manifest, engine_dir());
    engine::save_engine_manifest(manifest, engine_dir());
  }

  fake::Config fake_config() const {
    fake::Config c;
    c.manifest = manifest;
    c.merge_unit = cfg.vision.merge_unit();
    return c;
  }
};

// Camera frames of their own grids, and the prompt around their image pads.
struct Scene {
  std::vector<model::ImageGrid> grids;
  std::vector<float> patches;
  std::vector<int32_t> ids;
  model::RopeIndex rope;

  Scene(const model::ModelConfig& cfg, std::vector<model::ImageGrid> g) : grids(std::move(g)) {
    int64_t total = 0;
    for (const auto& g : grids) total += g.patches();
    patches.resize(static_cast<size_t>(total * cfg.vision.patch_dim()));
    for (size_t i = 0; i < patches.size(); ++i) patches[i] = static_cast<float>(std::sin(0.011 * static_cast<double>(i)));
    const auto id = [](const char* t) { return static_cast<int32_t>(model::token_layout_id(t)); };
    ids = {257, 10, 20};
    for (const auto& g : grids) {
      ids.push_back(id("<|vision_start|>"));
      for (int64_t r = 0; r < g.patches() / cfg.vision.merge_unit(); ++r) ids.push_back(static_cast<int32_t>(cfg.image_token_id));
      ids.push_back(id("<|vision_end|>"));
    }
    for (int32_t t : {30, 40, 50}) ids.push_back(t);
    const std::vector<int64_t> ids64(ids.begin(), ids.end());
    rope = model::rope_index(cfg, ids64, grids);
  }
  model::ImageBatch batch() const { return {patches.data(), grids}; }
};

std::vector<float> noise_of(int sample, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = static_cast<float>(std::cos(0.37 * static_cast<double>(i) + sample));
  return x;
}

// What denoise must return under the fake's velocity rule: x += dt_i * (t_i + bias(j)).
std::vector<float> expected_actions(std::vector<float> x, int steps) {
  const std::vector<float> ts = model::flow_time_steps(steps);
  for (int i = 0; i < steps; ++i) {
    const float dt = ts[static_cast<size_t>(i) + 1] - ts[static_cast<size_t>(i)];
    for (size_t j = 0; j < x.size(); ++j) {
      const float v = ts[static_cast<size_t>(i)] + fake::velocity_bias(static_cast<int64_t>(j));
      const float step = dt * v;
      x[j] = x[j] + step;
    }
  }
  return x;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

struct PlanRun {
  std::vector<std::vector<int32_t>> drawn;   // per sample: the first token, then one per decode step
  std::vector<std::vector<float>> actions;   // per sample
  int64_t llm_runs = 0, expert_runs = 0;     // engine runs this plan needs at least
};

// One request as the planner runs it: images, prompt, then the samples in groups of max_lanes(), each
// lane decoding its own number of tokens (finished lanes are not listed), then one denoise per group.
PlanRun run_plan(model::Executor& ex, const Scene& scene, const std::vector<int>& tokens, int steps, int noise_base,
                 int64_t action_n) {
  const int samples = static_cast<int>(tokens.size());
  const int64_t n = static_cast<int64_t>(scene.ids.size());
  const int lanes = std::min(ex.max_lanes(), samples);
  PlanRun out;
  out.drawn.resize(static_cast<size_t>(samples));
  out.actions.resize(static_cast<size_t>(samples));
  ex.reserve(n + *std::max_element(tokens.begin(), tokens.end()) + 1, lanes);
  ex.encode_images(scene.batch());
  ex.prefill(scene.ids, scene.rope.pos);
  out.llm_runs = 1;
  model::SamplingParams greedy;
  greedy.temperature = 0;
  for (int first = 0; first < samples; first += lanes) {
    const int group = std::min(lanes, samples - first);
    std::vector<model::TokenSampler> samplers;
    for (int s = 0; s < group; ++s) samplers.emplace_back(static_cast<uint64_t>(first + s));
    std::vector<model::TokenSampler*> ptrs;
    for (auto& s : samplers) ptrs.push_back(&s);
    const std::vector<int32_t> start = ex.start_lanes(ptrs, greedy);
    CHECK_EQ(start.size(), static_cast<size_t>(group));
    std::vector<int32_t> last(start.begin(), start.end());
    for (int s = 0; s < group; ++s) out.drawn[static_cast<size_t>(first + s)].push_back(last[static_cast<size_t>(s)]);
    int longest = 0;
    for (int s = 0; s < group; ++s) longest = std::max(longest, tokens[static_cast<size_t>(first + s)]);
    for (int k = 0; k < longest; ++k) {
      std::vector<model::LaneStep> steps_k;
      for (int s = 0; s < group; ++s)
        if (k < tokens[static_cast<size_t>(first + s)]) {
          const int64_t pos = n + k;
          steps_k.push_back({s, last[static_cast<size_t>(s)], pos, pos + scene.rope.rope_delta, ptrs[static_cast<size_t>(s)]});
        }
      const std::vector<int32_t> next = ex.decode(steps_k, greedy);
      CHECK_EQ(next.size(), steps_k.size());
      for (size_t i = 0; i < steps_k.size() && i < next.size(); ++i) {
        last[static_cast<size_t>(steps_k[i].lane)] = next[i];
        out.drawn[static_cast<size_t>(first + steps_k[i].lane)].push_back(next[i]);
      }
    }
    out.llm_runs += longest;
    std::vector<model::DenoiseLane> dl;
    std::vector<float> x;
    for (int s = 0; s < group; ++s) {
      const int64_t prefix = n + tokens[static_cast<size_t>(first + s)];
      dl.push_back({s, prefix, prefix + scene.rope.rope_delta});
      const auto ns = noise_of(noise_base + first + s, action_n);
      x.insert(x.end(), ns.begin(), ns.end());
    }
    int before = 0;
    ex.denoise(x.data(), dl, steps, [&] { ++before; });
    CHECK(before >= 1);
    out.expert_runs += steps;
    for (int s = 0; s < group; ++s)
      out.actions[static_cast<size_t>(first + s)].assign(x.begin() + static_cast<std::ptrdiff_t>(s * action_n),
                                                         x.begin() + static_cast<std::ptrdiff_t>((s + 1) * action_n));
  }
  return out;
}

// What the fake engines make of a plan: greedy tokens chained by next_token from the last prompt id
// (the ids reached the engine), actions by the host Euler loop (`t` read from its binding each step).
void check_plan(const PlanRun& r, const Scene& scene, const std::vector<int>& tokens, int steps, int noise_base,
                int64_t vocab, int64_t action_n) {
  for (size_t s = 0; s < tokens.size(); ++s) {
    int64_t want = fake::next_token(scene.ids.back(), vocab);
    CHECK_EQ(r.drawn[s].size(), static_cast<size_t>(tokens[s] + 1));
    for (int32_t got : r.drawn[s]) {
      CHECK_EQ(int64_t{got}, want);
      want = fake::next_token(got, vocab);
    }
    const double d = max_abs_diff(r.actions[s], expected_actions(noise_of(noise_base + static_cast<int>(s), action_n), steps));
    if (!(d <= 1e-6)) std::cout << "    sample " << s << ": actions differ from the host Euler loop by " << d << "\n";
    CHECK(d <= 1e-6);
  }
}

}  // namespace

TEST(trt_runner_on_fake_tensorrt_keeps_the_runtime_contract) {
  Engines eng;
  fake::configure(eng.fake_config());
  // The runner is asked for device 1 while device 0 is current: every CUDA object it makes must be
  // made after it selects its device.
  cudaSetDevice(0);
  // Two images of different grids (the first one's rows end off a 256-byte boundary), then larger
  // ones (the runner's image buffers grow under graphs captured earlier).
  const Scene scene(eng.cfg, {{1, 2, 6}, {1, 4, 8}}), big(eng.cfg, {{1, 8, 8}, {1, 4, 8}});
  const int64_t vocab = eng.manifest.vocab_size;
  const int64_t action_n = eng.cfg.action_space.n_waypoints * eng.cfg.action_dims;
  // Four requests as the planner makes them: two samples of ragged lengths; three (another lane
  // count where lanes are batched) with another step count (flow-time schedule); three again with the
  // first step count and larger images; three again unchanged (graphs reused across requests).
  struct Request {
    const Scene* scene;
    std::vector<int> tokens;
    int steps, noise_base;
  };
  const std::vector<Request> requests{{&scene, {4, 2}, 5, 0}, {&scene, {3, 1, 3}, 4, 10}, {&big, {2, 2, 2}, 5, 20}, {&big, {1, 3, 2}, 5, 30}};
  std::vector<PlanRun> runs;
  int lanes = 1;
  // The run's exception (a call TensorRT would fail) is reported beside the rules it broke.
  try {
    trt::TrtExecutorOptions o;
    o.engine_dir = eng.engine_dir();
    o.device = 1;
    o.config = eng.cfg;
    o.model_config_sha256 = eng.config_sha;
    trt::TrtExecutor runner(std::move(o));
    model::Executor& ex = runner;
    CHECK_EQ(ex.info().backend, std::string("tensorrt"));
    CHECK_EQ(ex.info().precision, std::string("fp16"));
    lanes = ex.max_lanes();
    // Each request from a new thread, as the planner's workers call it: a fresh thread's current device
    // is 0 until the runner makes its own current.
    for (const Request& r : requests) {
      std::exception_ptr failed;
      std::thread([&] {
        try {
          runs.push_back(run_plan(ex, *r.scene, r.tokens, r.steps, r.noise_base, action_n));
        } catch (...) {
          failed = std::current_exception();
        }
      }).join();
      if (failed) std::rethrow_exception(failed);
    }
    CHECK(ex.cache_bytes() > 0);
  } catch (const std::exception& e) {
    test::record_failure(__FILE__, __LINE__, std::string("the runner threw: ") + e.what());
  }

  const std::string v = fake::violations_text();
  if (!v.empty()) std::cout << "    the runner broke the fake TensorRT's rules:\n" << v;
  CHECK(v.empty());
  fake::Counters c = fake::counters();
  std::cout << "    # max_lanes " << lanes << ", enqueues " << c.enqueues << " (captured " << c.captured_enqueues << "), graph launches "
            << c.graph_launches << ", engine runs: vision " << c.runs_per_engine["vision"] << ", llm " << c.runs_per_engine["llm"]
            << ", expert_step " << c.runs_per_engine["expert_step"] << "; contexts " << c.contexts << ", profile selections "
            << c.profile_selections << ", streams " << c.streams_created << "\n";
  CHECK_EQ(c.engines, int64_t{3});
  CHECK_EQ(c.live_allocations, int64_t{0});  // every buffer freed with the runner
  CHECK(c.plan_bytes_read_to_device > 0);    // the plan reader's device path ran
  // Every engine really ran: the images, the prompts, every decode step, every Euler step.
  int64_t llm_runs = 0, expert_runs = 0;
  for (const PlanRun& r : runs) {
    llm_runs += r.llm_runs;
    expert_runs += r.expert_runs;
  }
  CHECK(c.runs_per_engine["vision"] >= 2 * static_cast<int64_t>(requests.size()));
  CHECK(c.runs_per_engine["llm"] >= llm_runs);
  CHECK(c.runs_per_engine["expert_step"] >= expert_runs);
  CHECK_EQ(runs.size(), requests.size());
  for (size_t i = 0; i < runs.size() && i < requests.size(); ++i)
    check_plan(runs[i], *requests[i].scene, requests[i].tokens, requests[i].steps, requests[i].noise_base, vocab, action_n);
}

namespace {

// The logits row the fake llm produces for a lane whose last input id is `last`.
std::vector<float> fake_logits_row(int64_t last, int64_t vocab) {
  std::vector<float> row(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) row[static_cast<size_t>(i)] = fake::logit(last, i, vocab);
  return row;
}

trt::TrtExecutorOptions runner_options(const Engines& eng) {
  trt::TrtExecutorOptions o;
  o.engine_dir = eng.engine_dir();
  o.device = 1;
  o.config = eng.cfg;
  o.model_config_sha256 = eng.config_sha;
  return o;
}

// The error `run` throws, as code + message ("" when it throws none).
template <class F>
std::pair<ErrorCode, std::string> error_of(F run) {
  try {
    run();
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  return {ErrorCode::Internal, ""};
}

}  // namespace

// Token selection runs on the (fake) device over the engine's logits with the host's SplitMix64
// draws: each lane's sampled tokens are what model::select_tokens (the CPU executor's rule) draws from
// the same rows with the same seed, one sampler at a time, while lanes finish at different steps; a
// NaN logit is the CPU path's INVALID_CHECKPOINT error, message for message.
TEST(trt_runner_selects_tokens_on_the_device_as_select_tokens) {
  Engines eng;
  fake::configure(eng.fake_config());
  cudaSetDevice(0);
  const Scene scene(eng.cfg, {{1, 2, 6}, {1, 4, 8}});
  const int64_t vocab = eng.manifest.vocab_size, n = static_cast<int64_t>(scene.ids.size());
  model::SamplingParams sampled;
  sampled.temperature = 0.7f;
  sampled.top_p = 0.9f;
  sampled.masked_begin = vocab - 16;  // a masked id range, as the trajectory tokens are
  sampled.masked_end = vocab;
  const std::vector<int> want_tokens{6, 2, 4};
  std::vector<std::vector<int32_t>> drawn;
  try {
    trt::TrtExecutor runner(runner_options(eng));
    model::Executor& ex = runner;
    const int lanes = std::min<int>(ex.max_lanes(), static_cast<int>(want_tokens.size()));
    ex.reserve(n + 8, lanes);
    ex.encode_images(scene.batch());
    ex.prefill(scene.ids, scene.rope.pos);
    std::vector<model::TokenSampler> samplers;
    for (int s = 0; s < lanes; ++s) samplers.emplace_back(model::rollout_sampler_state(7, static_cast<uint64_t>(s)));
    std::vector<model::TokenSampler*> ptrs;
    for (auto& s : samplers) ptrs.push_back(&s);
    const std::vector<int32_t> first = ex.start_lanes(ptrs, sampled);
    drawn.resize(static_cast<size_t>(lanes));
    for (int s = 0; s < lanes; ++s) drawn[static_cast<size_t>(s)].push_back(first.at(static_cast<size_t>(s)));
    for (int k = 0; k < *std::max_element(want_tokens.begin(), want_tokens.begin() + lanes); ++k) {
      std::vector<model::LaneStep> steps;
      for (int s = 0; s < lanes; ++s)
        if (k < want_tokens[static_cast<size_t>(s)])
          steps.push_back({s, drawn[static_cast<size_t>(s)].back(), n + k, n + k + scene.rope.rope_delta, ptrs[static_cast<size_t>(s)]});
      const std::vector<int32_t> next = ex.decode(steps, sampled);
      CHECK_EQ(next.size(), steps.size());
      for (size_t i = 0; i < steps.size() && i < next.size(); ++i) drawn[static_cast<size_t>(steps[i].lane)].push_back(next[i]);
    }
    // A second lane group of the same prompt (a plan with more samples than lanes) starts from the
    // prompt's logits, which the decode steps above must not have overwritten.
    std::vector<model::TokenSampler> again;
    for (int s = 0; s < lanes; ++s) again.emplace_back(model::rollout_sampler_state(7, static_cast<uint64_t>(100 + s)));
    std::vector<model::TokenSampler*> again_ptrs;
    for (auto& s : again) again_ptrs.push_back(&s);
    const std::vector<int32_t> second = ex.start_lanes(again_ptrs, sampled);
    for (int s = 0; s < lanes; ++s) {
      model::TokenSampler host(model::rollout_sampler_state(7, static_cast<uint64_t>(100 + s)));
      model::TokenSampler* hp = &host;
      CHECK_EQ(second.at(static_cast<size_t>(s)),
               model::select_tokens(fake_logits_row(scene.ids.back(), vocab), std::span<model::TokenSampler* const>(&hp, 1), sampled)[0]);
    }
  } catch (const std::exception& e) {
    test::record_failure(__FILE__, __LINE__, std::string("the runner threw: ") + e.what());
  }
  const std::string v = fake::violations_text();
  if (!v.empty()) std::cout << "    the runner broke the fake TensorRT's rules:\n" << v;
  CHECK(v.empty());
  // Sequential host selection, one sampler per lane with the same seed.
  std::set<int32_t> distinct;
  for (size_t s = 0; s < drawn.size(); ++s) {
    model::TokenSampler host(model::rollout_sampler_state(7, s));
    model::TokenSampler* hp = &host;
    int64_t last = scene.ids.back();
    CHECK_EQ(drawn[s].size(), static_cast<size_t>(want_tokens[s] + 1));
    for (int32_t got : drawn[s]) {
      const int32_t want = model::select_tokens(fake_logits_row(last, vocab), std::span<model::TokenSampler* const>(&hp, 1), sampled)[0];
      CHECK_EQ(got, want);
      CHECK(got < sampled.masked_begin);
      distinct.insert(got);
      last = got;
    }
  }
  std::cout << "    # " << distinct.size() << " distinct sampled ids over " << drawn.size() << " lanes\n";
  CHECK(distinct.size() >= 4);  // the draws matter: not one hot id per row

  // A NaN logit in the prompt's row (start_lanes) and in a decode row: the CPU rule's error.
  model::SamplingParams greedy;
  greedy.temperature = 0;
  for (const bool in_decode : {false, true}) {
    fake::Config c = eng.fake_config();
    c.nan_after_id = in_decode ? fake::next_token(scene.ids.back(), vocab) : scene.ids.back();
    c.nan_logit_index = vocab / 3;
    fake::configure(c);
    std::vector<float> bad_row = fake_logits_row(c.nan_after_id, vocab);
    model::TokenSampler host(1);
    model::TokenSampler* hp = &host;
    const auto cpu = error_of([&] { model::select_tokens(bad_row, std::span<model::TokenSampler* const>(&hp, 1), greedy); });
    CHECK(cpu.first == ErrorCode::InvalidCheckpoint);
    CHECK(cpu.second.find("at index " + std::to_string(vocab / 3)) != std::string::npos);
    const auto got = error_of([&] {
      trt::TrtExecutor runner(runner_options(eng));
      model::Executor& ex = runner;
      ex.reserve(n + 4, 1);
      ex.encode_images(scene.batch());
      ex.prefill(scene.ids, scene.rope.pos);
      model::TokenSampler s(1);
      model::TokenSampler* sp = &s;
      const std::vector<int32_t> first = ex.start_lanes(std::span<model::TokenSampler* const>(&sp, 1), greedy);
      const model::LaneStep step{0, first.at(0), n, n + scene.rope.rope_delta, sp};
      ex.decode(std::span<const model::LaneStep>(&step, 1), greedy);
    });
    if (got.second != cpu.second) std::cout << "    runner: " << got.second << "\n    cpu:    " << cpu.second << "\n";
    CHECK(got.first == ErrorCode::InvalidCheckpoint);
    CHECK_EQ(got.second, cpu.second);
    CHECK(fake::violations_text().empty());
    CHECK_EQ(fake::counters().live_allocations, int64_t{0});
  }
}

// Each rule of the fake fires on the misuse it exists for (so the case above cannot pass by a
// fake that checks nothing). Drives the fake nvinfer directly, over the same exported engines.
TEST(trt_fake_runtime_reports_each_misuse) {
  Engines eng;
  fake::configure(eng.fake_config());
  cudaSetDevice(0);
  struct Logger final : nvinfer1::ILogger {
    void log(Severity, nvinfer1::AsciiChar const*) noexcept override {}
  } logger;
  std::unique_ptr<nvinfer1::IRuntime> rt(nvinfer1::createInferRuntime(logger));
  auto load = [&](const char* name) {
    struct Reader final : nvinfer1::IStreamReaderV2 {
      std::string bytes;
      size_t at = 0;
      int64_t read(void* dst, int64_t n, cudaStream_t) noexcept override {
        const size_t k = std::min(static_cast<size_t>(n), bytes.size() - at);
        cudaMemcpy(dst, bytes.data() + at, k, cudaMemcpyDefault);
        at += k;
        return static_cast<int64_t>(k);
      }
      bool seek(int64_t, nvinfer1::SeekPosition) noexcept override { return false; }
    } r;
    r.bytes = fake::plan_bytes(name);
    return std::unique_ptr<nvinfer1::ICudaEngine>(rt->deserializeCudaEngine(r));
  };
  auto expert = load(N::kExpert);
  CHECK(expert != nullptr);
  if (!expert) return;
  const engine::EngineSpec& spec = eng.manifest.engine(N::kExpert);
  auto fired = [](const char* rule) {
    if (std::getenv("ALP_FAKE_TRT_VERBOSE")) std::cout << fake::violations_text();
    bool hit = false;
    for (const auto& v : fake::violations()) hit = hit || v.rule == rule;
    fake::clear_violations();
    return hit;
  };
  cuda::Stream s0;
  std::vector<cuda::DeviceBuffer> bufs;
  auto ctx = std::unique_ptr<nvinfer1::IExecutionContext>(
      expert->createExecutionContext(nvinfer1::ExecutionContextAllocationStrategy::kUSER_MANAGED));
  cuda::DeviceBuffer memory(1 << 16);
  ctx->setDeviceMemoryV2(memory.get(), 1 << 16);
  // Binds every tensor of `c` to its own buffer, the dynamic inputs at the profile's min (or max) shape.
  using Sel = nvinfer1::OptProfileSelector;
  auto bind_all = [&](nvinfer1::IExecutionContext& c, Sel sel) {
    for (const auto& t : spec.io) {
      if (t.mode != engine::TensorMode::Input) continue;
      const nvinfer1::Dims d = expert->getProfileShape(t.name.c_str(), 0, sel);
      if (d.nbDims > 0) c.setInputShape(t.name.c_str(), d);
    }
    std::map<std::string, void*> at;
    for (const auto& t : spec.io) {
      const nvinfer1::Dims d = c.getTensorShape(t.name.c_str());
      size_t bytes = engine::manifest_dtype_size(t.dtype);
      for (int32_t i = 0; i < d.nbDims; ++i) bytes *= static_cast<size_t>(d.d[i]);
      bufs.emplace_back(std::max<size_t>(bytes, 256));
      cudaMemset(bufs.back().get(), 0, bufs.back().bytes());
      const char* alias = expert->getAliasedInputTensor(t.name.c_str());  // in place: present_* at past_*
      at[t.name] = alias && at.count(alias) ? at.at(alias) : bufs.back().get();
      c.setTensorAddress(t.name.c_str(), at[t.name]);
    }
  };
  // Unbound tensor.
  CHECK(!ctx->enqueueV3(s0.get()));
  CHECK(fired(fake::kBoundBeforeEnqueue));
  // Misaligned address.
  CHECK(!ctx->setTensorAddress(N::kT, static_cast<uint8_t*>(memory.get()) + 4));
  CHECK(fired(fake::kAlignment));
  // A shape outside the profile.
  nvinfer1::Dims too_long = expert->getProfileShape(N::past_key(0).c_str(), 0, nvinfer1::OptProfileSelector::kMAX);
  too_long.d[0] += 1000;
  CHECK(!ctx->setInputShape(N::past_key(0).c_str(), too_long));
  CHECK(fired(fake::kShapeInProfile));
  // A well-formed enqueue passes.
  bind_all(*ctx, Sel::kMIN);
  CHECK(ctx->enqueueV3(s0.get()));
  CHECK(!fired(fake::kBoundBeforeEnqueue));
  // Shapes set, then the profile selected again: the shapes are stale.
  CHECK(ctx->setOptimizationProfileAsync(0, s0.get()));
  CHECK(!ctx->enqueueV3(s0.get()));
  CHECK(fired(fake::kProfileBeforeShape));
  bind_all(*ctx, Sel::kMIN);
  CHECK(ctx->setOptimizationProfileAsync(0, s0.get()));  // drops the shapes just set
  CHECK(fired(fake::kProfileBeforeShape));
  bind_all(*ctx, Sel::kMIN);
  // A tensor bound to a buffer smaller than its shape.
  cuda::DeviceBuffer small(256);
  ctx->setTensorAddress(N::kVelocity, small.get());
  CHECK(!ctx->enqueueV3(s0.get()));
  CHECK(fired(fake::kBufferBounds));
  bind_all(*ctx, Sel::kMIN);
  // An output on top of an input (not an alias TensorRT declares).
  cuda::DeviceBuffer shared(1 << 12);
  ctx->setTensorAddress(N::kX, shared.get());
  ctx->setTensorAddress(N::kVelocity, shared.get());
  CHECK(!ctx->enqueueV3(s0.get()));
  CHECK(fired(fake::kOverlap));
  bind_all(*ctx, Sel::kMIN);
  // Capture: no warm-up at new shapes, global mode, and an address moved between two captured enqueues.
  bind_all(*ctx, Sel::kMAX);
  CHECK_EQ(cudaStreamBeginCapture(s0.get(), cudaStreamCaptureModeGlobal), cudaSuccess);
  CHECK(fired(fake::kCaptureMode));
  CHECK(ctx->enqueueV3(s0.get()));
  CHECK(fired(fake::kWarmupBeforeCapture));
  void* moved = nullptr;
  cudaMalloc(&moved, 1 << 12);  // forbidden while capturing
  CHECK(fired(fake::kCaptureUnsafe));
  cudaGraph_t g = nullptr;
  CHECK(cudaStreamEndCapture(s0.get(), &g) != cudaSuccess);  // invalidated by the cudaMalloc
  cuda::DeviceBuffer other_x(1 << 20);
  CHECK(ctx->enqueueV3(s0.get()));  // the warm-up at these shapes
  CHECK(cudaStreamBeginCapture(s0.get(), cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  CHECK(ctx->enqueueV3(s0.get()));
  CHECK(!fired(fake::kWarmupBeforeCapture));
  ctx->setTensorAddress(N::kX, other_x.get());
  CHECK(ctx->enqueueV3(s0.get()));
  CHECK(fired(fake::kGraphAddresses));
  CHECK(cudaStreamEndCapture(s0.get(), &g) == cudaSuccess);
  cudaGraphDestroy(g);
  // A graph launched after one of its context's tensors was rebound.
  bind_all(*ctx, Sel::kMAX);
  CHECK(cudaStreamBeginCapture(s0.get(), cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  CHECK(ctx->enqueueV3(s0.get()));
  CHECK(cudaStreamEndCapture(s0.get(), &g) == cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  CHECK(cudaGraphInstantiate(&exec, g, 0) == cudaSuccess);
  cudaGraphDestroy(g);
  CHECK(cudaGraphLaunch(exec, s0.get()) == cudaSuccess);
  CHECK(!fired(fake::kGraphAddresses));  // replays with the addresses it was captured with
  ctx->setTensorAddress(N::kX, other_x.get());  // the graph would still use the old buffer
  CHECK(cudaGraphLaunch(exec, s0.get()) == cudaSuccess);
  CHECK(fired(fake::kGraphAddresses));
  cudaGraphExecDestroy(exec);
  // A graph replayed after a buffer it captured was freed.
  bind_all(*ctx, Sel::kMAX);
  {
    auto doomed = std::make_unique<cuda::DeviceBuffer>(size_t{1} << 20);
    ctx->setTensorAddress(N::kX, doomed->get());
    CHECK(cudaStreamBeginCapture(s0.get(), cudaStreamCaptureModeThreadLocal) == cudaSuccess);
    CHECK(ctx->enqueueV3(s0.get()));
    CHECK(cudaStreamEndCapture(s0.get(), &g) == cudaSuccess);
    CHECK(cudaGraphInstantiate(&exec, g, 0) == cudaSuccess);
    cudaGraphDestroy(g);
    CHECK(cudaGraphLaunch(exec, s0.get()) == cudaSuccess);
    CHECK(!fired(fake::kBufferBounds));
    doomed.reset();
    CHECK(cudaGraphLaunch(exec, s0.get()) == cudaSuccess);
    CHECK(fired(fake::kBufferBounds));
    cudaGraphExecDestroy(exec);
  }
  bind_all(*ctx, Sel::kMIN);
  // Two contexts on one profile in flight at once on two streams; ordered by an event, they are not.
  cuda::Stream s1;
  auto ctx2 = std::unique_ptr<nvinfer1::IExecutionContext>(expert->createExecutionContext());
  bind_all(*ctx2, Sel::kMIN);
  CHECK(cudaStreamSynchronize(s0.get()) == cudaSuccess);
  CHECK(ctx->enqueueV3(s0.get()));
  CHECK(ctx2->enqueueV3(s1.get()));
  CHECK(fired(fake::kProfileInFlight));
  CHECK(cudaStreamSynchronize(s1.get()) == cudaSuccess);
  cuda::Event done;
  done.record(s0.get());
  CHECK(cudaStreamWaitEvent(s1.get(), done.get(), 0) == cudaSuccess);
  CHECK(ctx2->enqueueV3(s1.get()));
  CHECK(!fired(fake::kProfileInFlight));
  // A stream of another device.
  CHECK(cudaSetDevice(1) == cudaSuccess);
  cuda::Stream s_dev1;
  CHECK(cudaSetDevice(0) == cudaSuccess);
  CHECK(!ctx->enqueueV3(s_dev1.get()));
  CHECK(fired(fake::kStreamDevice));
  // Activation memory smaller than the profile needs.
  ctx->setDeviceMemoryV2(memory.get(), 16);
  CHECK(!ctx->enqueueV3(s0.get()));
  CHECK(fired(fake::kContextMemory));
  CHECK(cudaStreamSynchronize(s0.get()) == cudaSuccess);
  CHECK(cudaStreamSynchronize(s1.get()) == cudaSuccess);
  cudaFree(moved);
  fake::clear_violations();
}
