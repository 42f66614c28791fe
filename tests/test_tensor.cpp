#include <gtest/gtest.h>

#include "fcnet/tensor.hpp"

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
