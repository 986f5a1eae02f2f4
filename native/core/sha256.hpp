#pragma once
// SHA-256 (FIPS 180-4) for engine and checkpoint integrity checks. Engines are verified against the
// manifest before TensorRT sees a byte, so a truncated copy fails with a checksum error instead of a
// deserialisation crash deep inside libnvinfer.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/error.hpp"

namespace alp {

class Sha256 {
 public:
  Sha256();
  void update(std::span<const uint8_t> bytes);
  // Finishes the digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> finish();
  std::string finish_hex();  // 64 lowercase hex digits

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(std::span<const uint8_t> bytes);
// Streams the file in chunks; an unreadable file throws Error(code_on_failure) naming the path.
std::string sha256_file(const std::string& path, ErrorCode code_on_failure = ErrorCode::InvalidInput);

}  // namespace alp
