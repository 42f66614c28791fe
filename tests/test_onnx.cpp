// The protobuf wire-format writer against bytes encoded by hand (the examples of protobuf's
// encoding guide), and the ONNX exporter's own checks. ONNX Runtime checks the graphs themselves
// (tests/onnx); these also run in the sanitizer build, which has no Python.
#include <gtest/gtest.h>

#include "fcnet/error.hpp"
#include "fcnet/onnx.hpp"
#include "io/protobuf.hpp"

namespace fcnet {
namespace {

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s += static_cast<char>(b);
  return s;
}

TEST(Protobuf, WireFormatMatchesHandEncodedBytes) {
  using proto::Message;
  EXPECT_EQ(Message().varint(1, 150).str(), bytes({0x08, 0x96, 0x01}));
  EXPECT_EQ(Message().bytes(2, "testing").str(),
            bytes({0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'}));
  EXPECT_EQ(Message().message(3, Message().varint(1, 150)).str(),
            bytes({0x1a, 0x03, 0x08, 0x96, 0x01}));
  // A negative int64 is its two's complement in ten bytes.
  EXPECT_EQ(Message().varint(2, -1).str(),
            bytes({0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
  // Field 20 needs a two-byte tag (20 << 3 = 160); 1.0f is 0x3f800000, little-endian.
  EXPECT_EQ(Message().varint(20, 2).fixed32(3, 1.0f).str(),
            bytes({0xa0, 0x01, 0x02, 0x1d, 0x00, 0x00, 0x80, 0x3f}));
  EXPECT_EQ(Message().bytes(4, "").str(), bytes({0x22, 0x00}));
}

Model small_model() {
  Model m;
  m.net32 = Network<float>({3, 4, 2}, ActivationFn{});
  return m;
}

TEST(Onnx, ModelStartsWithItsIrVersionAndNamesItsOutputs) {
  const std::string b = to_onnx(small_model());
  EXPECT_EQ(b.substr(0, 2), bytes({0x08, 0x08}));  // ModelProto.ir_version = 8
  EXPECT_NE(b.find("probabilities"), std::string::npos);
  EXPECT_NE(b.find("ArgMax"), std::string::npos);
}

TEST(Onnx, ColumnNamedLikeAnOutputOrSchemaOfAnotherWidthIsRefused) {
  Model m = small_model();
  ColumnSpec cat;
  cat.name = "label";
  cat.kind = ColumnSpec::Kind::categorical;
  cat.categories = {"a", "b"};
  ColumnSpec num;
  num.name = "x";
  m.schema.columns = {cat, num};
  EXPECT_THROW(
      {
        try {
          to_onnx(m);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("column 'label'"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  m.schema.columns[0].name = "kind";
  EXPECT_NE(to_onnx(m).find("LabelEncoder"), std::string::npos);
  m.schema.columns.pop_back();
  EXPECT_THROW(to_onnx(m), Error);  // 2 features for a network of 3 inputs
}

}  // namespace
}  // namespace fcnet
