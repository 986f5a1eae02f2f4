#pragma once
// Protobuf wire-format encoder: just enough to serialise onnx.ModelProto without a protobuf
// dependency. Callers emit fields in ascending field-number order, which is what the reference
// protobuf runtimes do, so our bytes can be compared with Python's `SerializeToString()`.
#include <cstdint>
#include <string>
#include <string_view>

namespace alp::exporter {

class ProtoWriter {
 public:
  enum class WireType : uint8_t { Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5 };

  // Field setters append one tagged field. Negative int64 values take ten bytes (two's complement
  // as uint64), as protobuf specifies for int64 (not zig-zag: that is only sint64).
  void varint(uint32_t field, uint64_t v);
  void int64(uint32_t field, int64_t v) { varint(field, static_cast<uint64_t>(v)); }
  void fixed32(uint32_t field, uint32_t v);
  void fixed64(uint32_t field, uint64_t v);
  void float32(uint32_t field, float v);
  void bytes(uint32_t field, std::string_view data);
  void string(uint32_t field, std::string_view s) { bytes(field, s); }
  void message(uint32_t field, const ProtoWriter& m) { bytes(field, m.data()); }

  const std::string& data() const { return buf_; }
  std::string release() { return std::move(buf_); }

  // Raw encodings, exposed for tests.
  static void append_varint(std::string& out, uint64_t v);

 private:
  void tag(uint32_t field, WireType type);
  std::string buf_;
};

}  // namespace alp::exporter
