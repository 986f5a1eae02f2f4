#include "export/export_engines.hpp"

#include "export/trtexec_commands.hpp"

namespace alp::exporter {

ExportEnginesResult export_engines(const std::string& checkpoint_dir, const std::string& out_dir, Precision precision,
                                   const ModelExportOptions& options, bool export_only, const EngineBuilder& build) {
  ModelExportResult r = export_models(checkpoint_dir, out_dir, precision, options);
  if (!export_only && build) build(r.manifest, out_dir);
  ExportEnginesResult res;
  res.built = !r.manifest.engines.empty();
  for (const auto& [name, e] : r.manifest.engines) res.built = res.built && e.built;
  engine::save_engine_manifest(r.manifest, out_dir);
  if (!res.built) res.trtexec = trtexec_commands(r.manifest, out_dir);
  res.manifest = std::move(r.manifest);
  return res;
}

}  // namespace alp::exporter
