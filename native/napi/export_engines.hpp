#pragma once
#include <napi.h>

namespace alp::napi {

// exportEngines(checkpoint, outDir, precision, profiles: string[], referenceDir: string | undefined,
//               onProgress?: (message: string) => void,
//               options?: { activationAmax?, referenceCases?, referenceFrames?, exportOnly?: boolean })
//   -> { manifest: string (JSON), built: boolean, trtexec: string[] }
// Synchronous (a CLI step): exports the ONNX graphs, builds the TensorRT engines when the addon has
// TensorRT and its ONNX parser and options.exportOnly is not true, and writes manifest.json; otherwise the
// manifest marks the engines not built and `trtexec` holds the commands that build them.
Napi::Value ExportEngines(const Napi::CallbackInfo& info);

}  // namespace alp::napi
