// trtexec commands (export/trtexec_commands.hpp) against the option grammar of trtexec 10.16 and
// 11.1, transcribed from NVIDIA/TensorRT samples/common/sampleOptions.cpp on release/10.16 and
// release/11.1 (getOptimizationProfiles, BuildOptions::parse):
// - `--profile=N` must be directly followed by its --minShapes/--optShapes/--maxShapes (positions
//   pos+1..pos+3, any order); several shape sets without --profile are rejected; an index used twice
//   is rejected.
// - a shape spec is `name:d0xd1x...` joined by ',' (splitNameAndValue<std::vector<int64_t>>).
// - --fp16/--bf16/--int8/--fp8/--int4/--best exist in 10.16 (deprecated, "superseded by strong
//   typing", --best conflicts with --stronglyTyped) and are unknown options in 11.1, where
//   --stronglyTyped is an accepted no-op. So a command both accept uses --stronglyTyped and none of them.
#include <regex>
#include <set>
#include <sstream>

#include "export/trtexec_commands.hpp"
#include "export/model_export.hpp"
#include "model/checkpoint_writer.hpp"
#include "tests/check.hpp"
#include "tests/temp_dir.hpp"

using namespace alp;

namespace {

struct TrtexecGrammar {
  std::string version;
  std::set<std::string> flags;   // value-less options
  std::set<std::string> valued;  // --name=value options (besides --profile and the shape options)
};

// Only the options this project emits, plus the precision flags whose absence is the point.
const TrtexecGrammar kTrt10{"10.16", {"--stronglyTyped", "--fp16", "--bf16", "--int8", "--fp8", "--best"}, {"--onnx", "--saveEngine"}};
const TrtexecGrammar kTrt11{"11.1", {"--stronglyTyped"}, {"--onnx", "--saveEngine"}};

// Empty string: the command parses under `g` as a strongly typed build; else what is wrong.
std::string grammar_error(const std::string& cmd, const TrtexecGrammar& g) {
  std::istringstream in(cmd);
  std::vector<std::string> tok;
  for (std::string t; in >> t;) tok.push_back(t);
  if (tok.empty() || tok[0] != "trtexec") return "does not start with trtexec";
  const std::regex spec(R"(^[A-Za-z_][A-Za-z0-9_.]*:\d+(x\d+)*(,[A-Za-z_][A-Za-z0-9_.]*:\d+(x\d+)*)*$)");
  std::set<int> profiles;
  bool strongly_typed = false, onnx = false, save = false;
  for (size_t i = 1; i < tok.size(); ++i) {
    const std::string& t = tok[i];
    const auto eq = t.find('=');
    const std::string name = t.substr(0, eq);
    if (eq == std::string::npos) {
      if (!g.flags.count(name)) return "trtexec " + g.version + " has no option " + name;
      if (name != "--stronglyTyped") return name + " is a weak-typing precision flag (removed in 11.1)";
      strongly_typed = true;
    } else if (name == "--profile") {
      const int idx = std::stoi(t.substr(eq + 1));
      if (!profiles.insert(idx).second) return "profile index " + std::to_string(idx) + " used twice";
      std::set<std::string> seen;
      for (size_t k = 1; k <= 3; ++k) {
        if (i + k >= tok.size()) return "--profile=" + std::to_string(idx) + " without three shape options after it";
        const std::string& s = tok[i + k];
        const std::string sn = s.substr(0, s.find('='));
        if ((sn != "--minShapes" && sn != "--optShapes" && sn != "--maxShapes") || !seen.insert(sn).second)
          return "--profile=" + std::to_string(idx) + " is followed by " + s + ", not its min/opt/max shapes";
        if (!std::regex_match(s.substr(sn.size() + 1), spec)) return "bad shape spec " + s;
      }
      i += 3;
    } else if (name == "--minShapes" || name == "--optShapes" || name == "--maxShapes") {
      return name + " outside a --profile=N block";
    } else if (g.valued.count(name)) {
      onnx = onnx || name == "--onnx";
      save = save || name == "--saveEngine";
    } else {
      return "trtexec " + g.version + " has no option " + name;
    }
  }
  if (!onnx || !save) return "missing --onnx or --saveEngine";
  if (!strongly_typed && g.version.starts_with("10")) return "TensorRT 10 needs --stronglyTyped for a typed graph";
  for (int i = 0; i < static_cast<int>(profiles.size()); ++i)
    if (!profiles.count(i)) return "profile indices are not 0..n-1";
  return {};
}

engine::EngineManifest golden_manifest() {
  engine::EngineManifest m;
  engine::EngineSpec llm;
  llm.name = "llm";
  llm.file = "llm.engine";
  llm.onnx = "llm.onnx";
  llm.precision = "fp16";
  llm.profiles.push_back({"prefill", {{"input_ids", {{1}, {3300}, {3392}}}, {"past_key.0", {{0, 8, 128}, {0, 8, 128}, {0, 8, 128}}}}});
  llm.profiles.push_back({"decode", {{"input_ids", {{1}, {1}, {1}}}, {"past_key.0", {{0, 8, 128}, {3428, 8, 128}, {3649, 8, 128}}}}});
  m.engines.emplace("llm", llm);
  engine::EngineSpec vision;
  vision.name = "vision";
  vision.file = "vision.engine";
  vision.precision = "bf16";
  vision.profiles.push_back({"default", {{"pixel_values", {{720, 1536}, {720, 1536}, {720, 1536}}}}});
  m.engines.emplace("vision", vision);
  return m;
}

}  // namespace

TEST(trtexec_commands_golden) {
  const auto cmds = exporter::trtexec_commands(golden_manifest(), "E");
  CHECK_EQ(cmds.size(), 2u);
  CHECK_EQ(cmds[0],
           std::string("trtexec --onnx=E/llm.onnx --saveEngine=E/llm.engine --stronglyTyped"
                       " --profile=0 --minShapes=input_ids:1,past_key.0:0x8x128 --optShapes=input_ids:3300,past_key.0:0x8x128"
                       " --maxShapes=input_ids:3392,past_key.0:0x8x128"
                       " --profile=1 --minShapes=input_ids:1,past_key.0:0x8x128 --optShapes=input_ids:1,past_key.0:3428x8x128"
                       " --maxShapes=input_ids:1,past_key.0:3649x8x128"));
  CHECK_EQ(cmds[1], std::string("trtexec --onnx=E/vision.onnx --saveEngine=E/vision.engine --stronglyTyped"
                                " --profile=0 --minShapes=pixel_values:720x1536 --optShapes=pixel_values:720x1536"
                                " --maxShapes=pixel_values:720x1536"));
  for (const auto& c : cmds) {
    CHECK_EQ(grammar_error(c, kTrt10), std::string());
    CHECK_EQ(grammar_error(c, kTrt11), std::string());
  }
}

TEST(trtexec_grammar_rejects_what_trtexec_rejects) {
  const std::string base = "trtexec --onnx=a.onnx --saveEngine=a.engine --stronglyTyped";
  // The old form: shape sets without --profile, and weak-typing flags.
  CHECK(grammar_error(base + " --minShapes=x:1 --optShapes=x:2 --maxShapes=x:3", kTrt10).find("outside a --profile") != std::string::npos);
  CHECK(grammar_error(base + " --fp16", kTrt10).find("weak-typing") != std::string::npos);
  CHECK(grammar_error(base + " --fp16", kTrt11).find("has no option --fp16") != std::string::npos);
  CHECK(grammar_error(base + " --profile=0 --minShapes=x:1 --optShapes=x:2", kTrt11).find("three shape options") != std::string::npos);
  CHECK(grammar_error(base + " --profile=0 --minShapes=x:1 --optShapes=x:2 --maxShapes=x:3 --profile=0 --minShapes=x:1 --optShapes=x:2 --maxShapes=x:3", kTrt11)
            .find("used twice") != std::string::npos);
  CHECK(grammar_error(base + " --profile=1 --minShapes=x:1 --optShapes=x:2 --maxShapes=x:3", kTrt11).find("0..n-1") != std::string::npos);
  CHECK(grammar_error(base + " --profile=0 --minShapes=x:1 --optShapes=x:2 --maxShapes=x=3", kTrt11).find("bad shape spec") != std::string::npos);
  CHECK(grammar_error("trtexec --onnx=a.onnx --saveEngine=a.engine", kTrt10).find("needs --stronglyTyped") != std::string::npos);
  CHECK_EQ(grammar_error(base + " --profile=0 --minShapes=x:1 --optShapes=x:2 --maxShapes=x:3", kTrt11), std::string());
}

TEST(trtexec_commands_of_an_export_parse_for_10_16_and_11_1) {
  test::TempDir dir;
  model::write_random_checkpoint(dir.file("ckpt"), "tiny", 1);
  for (auto p : {Precision::FP16, Precision::FP8}) {
    const auto r = exporter::export_models(dir.file("ckpt"), dir.file(std::string(precision_name(p))), p);
    const auto cmds = exporter::trtexec_commands(r.manifest, "E");
    CHECK_EQ(cmds.size(), 3u);
    for (const auto& c : cmds) {
      CHECK_EQ(grammar_error(c, kTrt10), std::string());
      CHECK_EQ(grammar_error(c, kTrt11), std::string());
    }
    CHECK(cmds[1].find("--profile=1 ") != std::string::npos);  // llm: prefill + decode
    // The in-place cache: kv_write_index [lanes] is a profiled input, and the capacity is the same at
    // min/opt/max (static shapes); decode and the expert go up to 16 lanes.
    const int64_t cap = r.manifest.kv_cache.capacity;
    const std::string kv1 = "past_key.0:1x2x" + std::to_string(cap) + "x16", kv16 = "past_key.0:16x2x" + std::to_string(cap) + "x16";
    CHECK(cmds[1].find("kv_write_index:1,") != std::string::npos);
    CHECK(cmds[1].find("kv_write_index:16,") != std::string::npos);
    CHECK(cmds[1].find(kv1) != std::string::npos && cmds[1].find(kv16) != std::string::npos);
    CHECK(cmds[0].find(",x:1024x2") != std::string::npos);  // expert_step: 16 lanes x 64 rows
  }
}
