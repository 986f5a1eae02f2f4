#pragma once
// sha256 of a file, computed once per process and file version: a second request for the same path
// with the same size and modification time returns the remembered digest without reading the file.
// The TensorRT loader checks multi-GB plans against the manifest this way, so reloading a planner
// (a service restarting its pipeline, tests dropping planners) does not re-read every plan.
#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace alp {

struct FileDigest {
  std::string sha256;  // lowercase hex
  uint64_t size = 0;
};

// Throws Error(code) naming the path when it cannot be read or is empty.
FileDigest cached_file_sha256(const std::string& path, ErrorCode code = ErrorCode::InvalidEngine);

// Files hashed (cache misses) so far in this process; for tests.
uint64_t file_sha256_computations();

}  // namespace alp
