#include <gtest/gtest.h>

#include "fcnet/tensor.hpp"
#include "fcnet/text.hpp"

TEST(Tensor, ViewIndexesRowMajorWithStride) {
  fcnet::Matrix<double> m(3, 4);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) m(i, j) = static_cast<double>(10 * i + j);
  auto v = m.view().rows_range(1, 2);
  EXPECT_EQ(v.rows, 2);
  EXPECT_DOUBLE_EQ(v(1, 3), 23.0);
  fcnet::MatrixView<double> sub(m.data() + 1, 3, 2, 4);  // columns 1..2
  EXPECT_DOUBLE_EQ(sub(2, 1), 22.0);
}

TEST(Tensor, AbsurdSizeThrowsInsteadOfCrashing) {
  fcnet::Matrix<float> m;
  EXPECT_THROW(m.resize(100000000000, 784, "W1"), fcnet::Error);
  try {
    m.resize(100000000000, 784, "W1");
  } catch (const fcnet::Error& e) {
    EXPECT_NE(std::string(e.what()).find("W1"), std::string::npos);
  }
}

// UTF-8 as RFC 3629 defines it: offsets of the first bad byte, worked out by hand.
TEST(Text, FirstInvalidUtf8) {
  using fcnet::first_invalid_utf8;
  using fcnet::json_text;
  EXPECT_EQ(first_invalid_utf8("plain ascii"), std::string_view::npos);
  EXPECT_EQ(first_invalid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            std::string_view::npos);
  EXPECT_EQ(first_invalid_utf8("caf\xe9"), 3u);           // Latin-1 é
  EXPECT_EQ(first_invalid_utf8("ab\xc0\x80"), 2u);        // overlong NUL
  EXPECT_EQ(first_invalid_utf8("\xe0\x80\xaf"), 0u);      // overlong '/'
  EXPECT_EQ(first_invalid_utf8("x\xed\xa0\x80"), 1u);     // a UTF-16 surrogate
  EXPECT_EQ(first_invalid_utf8("\xf4\x90\x80\x80"), 0u);  // past U+10FFFF
  EXPECT_EQ(first_invalid_utf8("ok\xe2\x82"), 2u);        // cut short
  EXPECT_EQ(first_invalid_utf8("\xc3\xa9\x80"), 2u);      // a stray continuation byte
  EXPECT_EQ(json_text(nlohmann::json("caf\xe9")), "\"caf\xef\xbf\xbd\"");  // U+FFFD
}
