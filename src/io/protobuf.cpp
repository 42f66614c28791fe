#include "io/protobuf.hpp"

#include <cstring>

namespace fcnet::proto {

void Message::raw_varint(uint64_t v) {
  while (v >= 0x80) {
    out_ += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out_ += static_cast<char>(v);
}

void Message::tag(int field, int wire_type) {
  raw_varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

Message& Message::varint(int field, int64_t v) {
  tag(field, 0);
  raw_varint(static_cast<uint64_t>(v));
  return *this;
}

Message& Message::fixed32(int field, float v) {
  tag(field, 5);
  char b[4];
  std::memcpy(b, &v, 4);  // little-endian on every supported host, as the wire format wants
  out_.append(b, 4);
  return *this;
}

Message& Message::bytes(int field, std::string_view s) {
  tag(field, 2);
  raw_varint(s.size());
  out_.append(s.data(), s.size());
  return *this;
}

}  // namespace fcnet::proto
