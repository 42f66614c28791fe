// A writer of the protocol-buffers wire format (varints, fixed 32-bit floats, length-delimited
// strings and nested messages): enough to serialize ONNX's messages without a protobuf library.
// Fields are appended in the order they are written; callers pass the field numbers of the .proto
// they encode.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fcnet::proto {

class Message {
 public:
  // int32, int64, uint64, enum and bool fields (wire type 0). A negative int64 takes ten bytes,
  // its two's complement, as protobuf encodes it.
  Message& varint(int field, int64_t v);
  // float fields (wire type 5, little-endian IEEE single).
  Message& fixed32(int field, float v);
  // string and bytes fields (wire type 2).
  Message& bytes(int field, std::string_view s);
  // A nested message (wire type 2).
  Message& message(int field, const Message& m) { return bytes(field, m.out_); }

  // The serialized message.
  const std::string& str() const { return out_; }

 private:
  void tag(int field, int wire_type);
  void raw_varint(uint64_t v);

  std::string out_;
};

}  // namespace fcnet::proto
