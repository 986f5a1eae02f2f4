// Resource exhaustion is its own error (ResourceExhausted), raised early: a checkpoint whose CPU weight
// copies cannot fit in the memory available fails at load with both numbers, and a mapping refused for
// lack of address space is not blamed on the checkpoint. Both use sparse files, so nothing big is
// written or allocated.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>

#include "core/error.hpp"
#include "core/host_memory.hpp"
#include "core/json.hpp"
#include "core/mapped_file.hpp"
#include "model/config.hpp"
#include "model/param_specs.hpp"
#include "pipeline/planner.hpp"
#include "tests/check.hpp"
#include "tests/temp_dir.hpp"

using namespace alp;
using alp::test::TempDir;

namespace {

void write_text(const std::string& path, const std::string& text) { test::write_bytes(path, text.data(), text.size()); }

// A bf16 safetensors file declaring every parameter of `cfg`, its data section a hole of the right size.
void write_sparse_checkpoint(const std::string& path, const model::ModelConfig& cfg) {
  json::Object header;
  uint64_t at = 0;
  for (const model::ParamSpec& p : model::parameter_specs(cfg)) {
    json::Array shape;
    for (int64_t d : p.shape) shape.push_back(json::Value(static_cast<double>(d)));
    const uint64_t bytes = static_cast<uint64_t>(shape_numel(p.shape)) * 2;
    header[p.name] = json::Object{{"dtype", json::Value(std::string("BF16"))},
                                  {"shape", json::Value(shape)},
                                  {"data_offsets", json::Value(json::Array{json::Value(static_cast<double>(at)),
                                                                           json::Value(static_cast<double>(at + bytes))})}};
    at += bytes;
  }
  std::string text = json::stringify(json::Value(header));
  while (text.size() % 8) text += ' ';
  std::string file(8, '\0');
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) file[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  file += text;
  test::write_bytes(path, file.data(), file.size());
  const int fd = ::open(path.c_str(), O_WRONLY);
  CHECK(fd >= 0);
  CHECK(::ftruncate(fd, static_cast<off_t>(file.size() + at)) == 0);
  ::close(fd);
}

}  // namespace

TEST(resource_cpu_load_fails_fast_when_fp32_weights_exceed_memory) {
  // The release's shapes (built-in Qwen3-VL-8B backbone, 2048-wide expert) with as many backbone layers
  // as it takes for the fp32 copies to exceed what this machine has: the failure must come from load.
  const HostMemory avail = available_host_memory();
  CHECK(avail.available != UINT64_MAX);
  json::Object rel = model::preset_config("tiny").as_object();
  rel.erase("special_token_ids");
  rel.erase("traj_token_ids");
  rel["vocab_size"] = int64_t{155697};
  rel["traj_token_start_idx"] = int64_t{151669};
  rel["expert_cfg"] = json::Object{{"head_dim", int64_t{128}}, {"hidden_size", int64_t{2048}},
                                   {"intermediate_size", int64_t{8256}}, {"num_attention_heads", int64_t{16}},
                                   {"num_hidden_layers", int64_t{1}}};
  json::Object vlm = model::builtin_qwen3_vl_8b_config().as_object();
  json::Object text = vlm["text_config"].as_object();
  int64_t layers = 36;
  auto config_with = [&](int64_t l) {
    text["num_hidden_layers"] = l;
    vlm["text_config"] = text;
    rel["vlm_config"] = vlm;
    return model::parse_model_config(json::Value(rel));
  };
  // bf16 matrices stay bf16 on the CPU in fp32 mode: about 2 bytes per parameter.
  while (static_cast<uint64_t>(model::parameter_count(config_with(layers))) * 2 < avail.available + (uint64_t{1} << 30)) layers *= 2;
  const model::ModelConfig cfg = config_with(layers);
  TempDir dir;
  write_text(dir.file("config.json"), json::stringify(json::Value(rel)));
  write_sparse_checkpoint(dir.file("model.safetensors"), cfg);
  pipeline::LoadOptions o;
  o.checkpoint = dir.path();
  o.backend = "cpu";
  o.precision = "fp32";
  o.threads = 1;
  CHECK_THROWS_CODE(pipeline::Planner::load(o), ErrorCode::ResourceExhausted, "bytes) of host memory, but only");
  CHECK_THROWS_CODE(pipeline::Planner::load(o), ErrorCode::ResourceExhausted, "is available (limited by");
}

TEST(resource_mmap_refused_for_address_space_is_resource_exhausted) {
  TempDir dir;
  const std::string path = dir.file("big.safetensors");
  test::write_bytes(path, "x", 1);
  const int fd = ::open(path.c_str(), O_WRONLY);
  CHECK(fd >= 0);
  CHECK(::ftruncate(fd, off_t{64} << 30) == 0);  // a 64 GiB hole
  ::close(fd);
  struct rlimit old {};
  CHECK(::getrlimit(RLIMIT_AS, &old) == 0);
  struct rlimit tight = old;
  const uint64_t in_use = [] {
    FILE* f = std::fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "VmSize: %llu kB", &kb) == 1) break;
    if (f) std::fclose(f);
    return static_cast<uint64_t>(kb) * 1024;
  }();
  // 4 GiB of headroom (room for the allocator, sanitizers included), far too little for the mapping.
  tight.rlim_cur = in_use + (uint64_t{4} << 30);
  if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < tight.rlim_cur) tight.rlim_cur = old.rlim_cur;
  CHECK(::setrlimit(RLIMIT_AS, &tight) == 0);
  bool thrown = false;
  try {
    MappedFile::open(path);
  } catch (const Error& e) {
    thrown = true;
    CHECK_EQ(std::string(error_code_name(e.code())), std::string("RESOURCE_EXHAUSTED"));
    CHECK(std::string(e.what()).find("cannot mmap") != std::string::npos);
  }
  ::setrlimit(RLIMIT_AS, &old);  // the soft limit may go back up to the hard one
  CHECK(thrown);
}
