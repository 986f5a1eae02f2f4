#include "export/trtexec_commands.hpp"

namespace alp::exporter {

namespace {

std::string dims_x(const Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

std::string shapes(const engine::OptimizationProfile& p, Shape engine::ProfileRange::*which) {
  std::string out;
  for (const auto& [name, r] : p.inputs) out += (out.empty() ? "" : ",") + name + ":" + dims_x(r.*which);
  return out;
}

}  // namespace

std::vector<std::string> trtexec_commands(const engine::EngineManifest& m, const std::string& dir) {
  std::vector<std::string> cmds;
  for (const auto& [name, e] : m.engines) {
    const std::string onnx = e.onnx.empty() ? name + ".onnx" : e.onnx;
    std::string c = "trtexec --onnx=" + dir + "/" + onnx + " --saveEngine=" + dir + "/" + e.file;
    for (const auto& p : e.profiles) {
      if (p.inputs.empty()) continue;
      c += " --minShapes=" + shapes(p, &engine::ProfileRange::min) + " --optShapes=" + shapes(p, &engine::ProfileRange::opt) +
           " --maxShapes=" + shapes(p, &engine::ProfileRange::max);
    }
    if (e.precision == "fp16") c += " --fp16";
    else if (e.precision == "bf16") c += " --bf16";
    else if (e.precision == "fp8") c += " --stronglyTyped";
    cmds.push_back(std::move(c));
  }
  return cmds;
}

}  // namespace alp::exporter
