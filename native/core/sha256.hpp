#pragma once
// SHA-256 (FIPS 180-4) for engine and checkpoint integrity checks. Engines are verified against the
// manifest before TensorRT sees a byte, so a truncated copy fails with a checksum error instead of a
// deserialisation crash deep inside libnvinfer.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace alp {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  std::array<uint8_t, 32> finish();  // the object must not be updated afterwards

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

// API kept identical to the core branch's sha256.hpp so either implementation can be kept on merge.
std::string to_hex(const std::array<uint8_t, 32>& digest);  // 64 lowercase hex digits
std::string sha256_hex(std::string_view data);
// Streams the file in chunks; an unreadable file throws Error(code_on_failure) naming the path.
std::string sha256_file(const std::string& path, ErrorCode code_on_failure = ErrorCode::InvalidEngine);

}  // namespace alp
