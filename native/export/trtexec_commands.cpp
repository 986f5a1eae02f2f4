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
    std::string c = "trtexec --onnx=" + dir + "/" + onnx + " --saveEngine=" + dir + "/" + e.file + " --stronglyTyped";
    // Profile indices follow the manifest's order, which is the runner's profile index.
    for (size_t i = 0; i < e.profiles.size(); ++i) {
      const auto& p = e.profiles[i];
      if (p.inputs.empty()) continue;
      c += " --profile=" + std::to_string(i) + " --minShapes=" + shapes(p, &engine::ProfileRange::min) +
           " --optShapes=" + shapes(p, &engine::ProfileRange::opt) + " --maxShapes=" + shapes(p, &engine::ProfileRange::max);
    }
    cmds.push_back(std::move(c));
  }
  return cmds;
}

}  // namespace alp::exporter
