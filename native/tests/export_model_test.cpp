// Model export without onnxruntime: the manifest the exporter derives from the traced graphs, fp8
// calibration coverage, --profile parsing and the trtexec commands. The numerical round trip is
// test/onnxExport.test.ts (onnxruntime vs the CPU executor).
#include <filesystem>

#include "export/model_export.hpp"
#include "export/trtexec_commands.hpp"
#include "model/checkpoint_writer.hpp"
#include "tests/check.hpp"
#include "tests/temp_dir.hpp"

using namespace alp;

TEST(export_models_manifest_and_fp8_scales) {
  test::TempDir dir;
  model::write_random_checkpoint(dir.file("ckpt"), "tiny", 1);
  exporter::ModelExportOptions o;
  o.dim_ranges["seq"] = {1, 8, 32};
  auto r = exporter::export_models(dir.file("ckpt"), dir.file("fp8"), Precision::FP8, o);
  const engine::EngineSpec& llm = r.manifest.engine("llm");
  CHECK_EQ(llm.io_tensor("input_ids").dtype, std::string("int64"));
  CHECK(llm.io_tensor("input_ids").shape == Shape{-1});
  CHECK(llm.io_tensor("past_key.1").shape == (Shape{-1, 2, 16}));
  CHECK(llm.io_tensor("present_value.1").mode == engine::TensorMode::Output);
  CHECK(llm.io_tensor("logits").shape == Shape{r.manifest.vocab_size});
  CHECK_EQ(llm.profiles.size(), 2u);
  CHECK(llm.profiles[0].inputs.at("input_ids").max == Shape{32});
  CHECK(llm.profiles[1].inputs.at("image_embeds").max == (Shape{0, 64}));
  // Every linear of the tiny llm (2 layers x 7 + lm_head) has a calibrated input scale.
  CHECK_EQ(llm.fp8_scales.size(), 15u);
  for (const auto& [k, s] : llm.fp8_scales) CHECK(s > 0 && s < 1);
  CHECK(r.manifest.engine("expert_step").profiles[0].inputs.at("past_key.0").min == (Shape{1, 2, 16}));
  CHECK(std::filesystem::file_size(dir.file("fp8/llm.onnx.data")) > 0);
  CHECK(!llm.built);

  const auto cmds = exporter::trtexec_commands(r.manifest, "E");
  CHECK_EQ(cmds.size(), 3u);
  CHECK(cmds[1].starts_with("trtexec --onnx=E/llm.onnx --saveEngine=E/llm.engine --minShapes="));
  CHECK(cmds[1].ends_with(" --stronglyTyped"));
  CHECK(cmds[1].find("input_ids:1,") != std::string::npos);
}

TEST(export_profile_and_precision_parsing) {
  auto [name, r] = exporter::parse_dim_range("seq=1:64:4096");
  CHECK_EQ(name, std::string("seq"));
  CHECK_EQ(r.min, 1);
  CHECK_EQ(r.opt, 64);
  CHECK_EQ(r.max, 4096);
  CHECK_THROWS_CODE(exporter::parse_dim_range("seq=4:2:8"), ErrorCode::InvalidInput, "min <= opt <= max");
  CHECK_THROWS_CODE(exporter::parse_dim_range("seq=1:2"), ErrorCode::InvalidInput, "name=min:opt:max");
  CHECK_THROWS_CODE(exporter::parse_dim_range("seq=1:2:3x"), ErrorCode::InvalidInput, "--profile 'seq=1:2:3x'");
  CHECK(parse_precision("bf16") == Precision::BF16);
  CHECK_THROWS_CODE(parse_precision("int4"), ErrorCode::InvalidInput, "got 'int4'");
}
