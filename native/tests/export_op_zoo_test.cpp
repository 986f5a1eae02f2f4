// Writes the op zoo. With ALPAMAYO_ONNX_ZOO_DIR set the files are kept there for
// test/fixtures/onnx/check_small_graphs.py (onnx.checker + onnxruntime vs NumPy); otherwise they go
// to a temp dir and only the C++-side invariants are checked.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "export/op_zoo.hpp"
#include "tests/check.hpp"
#include "tests/temp_dir.hpp"

TEST(export_op_zoo_writes_every_case) {
  const char* env = std::getenv("ALPAMAYO_ONNX_ZOO_DIR");
  std::optional<alp::test::TempDir> tmp;
  std::string dir;
  if (env && *env) {
    dir = env;
  } else {
    tmp.emplace();
    dir = tmp->path();
  }
  const auto names = alp::exporter::write_op_zoo(dir);
  CHECK(names.size() >= 30);
  std::ifstream mf(dir + "/manifest.json");
  const std::string manifest((std::istreambuf_iterator<char>(mf)), {});
  for (const auto& n : names) {
    CHECK(std::filesystem::file_size(dir + "/" + n + ".onnx") > 50);
    CHECK(std::filesystem::exists(dir + "/" + n + ".onnx.data"));
    CHECK(manifest.find("\"name\": \"" + n + "\"") != std::string::npos);
  }
  // Weights never go inline: the fp8 case's data file holds the 48 fp8 weight bytes, then (64-aligned) the fp16 bias.
  CHECK_EQ(std::filesystem::file_size(dir + "/linear_fp8.onnx.data"), uintmax_t{64 + 12});
}
