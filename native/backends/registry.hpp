#pragma once
// Which backends this binary was compiled with, and what the machine offers at run time.
#include <string>

namespace alp {

struct BackendReport {
  bool cuda_compiled = false;
  int cuda_devices = 0;            // 0 when compiled but no driver/GPU
  std::string cuda_error;          // why cuda_devices is 0, empty otherwise
  bool tensorrt_compiled = false;
  int tensorrt_version = 0;        // NV_TENSORRT_MAJOR*10000+MINOR*100+PATCH of the headers built against
};

BackendReport probe_backends();

}  // namespace alp
