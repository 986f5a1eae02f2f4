#include "export/protobuf_writer.hpp"

#include <cstring>

#include "core/error.hpp"

namespace alp::exporter {

void ProtoWriter::append_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void ProtoWriter::tag(uint32_t field, WireType type) {
  // Field numbers above 2^29-1 do not fit the 32-bit key; ONNX never needs them.
  require(field >= 1 && field < (1u << 29), ErrorCode::Internal,
          "protobuf field number " + std::to_string(field) + " outside [1, 2^29)");
  append_varint(buf_, (static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(type));
}

void ProtoWriter::varint(uint32_t field, uint64_t v) {
  tag(field, WireType::Varint);
  append_varint(buf_, v);
}

void ProtoWriter::fixed32(uint32_t field, uint32_t v) {
  tag(field, WireType::Fixed32);
  for (int i = 0; i < 4; ++i) buf_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void ProtoWriter::fixed64(uint32_t field, uint64_t v) {
  tag(field, WireType::Fixed64);
  for (int i = 0; i < 8; ++i) buf_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void ProtoWriter::float32(uint32_t field, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  fixed32(field, bits);
}

void ProtoWriter::bytes(uint32_t field, std::string_view data) {
  tag(field, WireType::LengthDelimited);
  append_varint(buf_, data.size());
  buf_.append(data.data(), data.size());
}

}  // namespace alp::exporter
