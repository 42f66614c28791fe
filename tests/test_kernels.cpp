// Fast kernels against the naive references, on random odd-sized inputs.
#include <cmath>
#include <thread>
#include <vector>

#include "fcnet/kernels.hpp"
#include "test_util.hpp"

using namespace fcnet;
using fcnet::test::random_matrix;

namespace {

const ActivationFn kActs[] = {{Activation::identity, 0.01},   {Activation::relu, 0.01},
                              {Activation::leaky_relu, 0.01}, {Activation::tanh, 0.01},
                              {Activation::sigmoid, 0.01},    {Activation::gelu, 0.01}};

struct Shape {
  int64_t n, k, m;
};

// Max |fast − ref| relative to the scale of the inputs: float32 rounding grows with K.
void expect_close(ConstView<float> got, ConstView<float> want, int64_t k, const std::string& what) {
  double worst = 0.0;
  for (int64_t i = 0; i < want.rows; ++i)
    for (int64_t j = 0; j < want.cols; ++j)
      worst = std::max(worst, std::fabs(double(got(i, j)) - double(want(i, j))) /
                                  (1.0 + std::fabs(double(want(i, j)))));
  const double tol = 4e-7 * std::sqrt(static_cast<double>(k)) * 4.0 + 1e-6;
  EXPECT_LT(worst, tol) << what;
}

}  // namespace

TEST(Gemm, DnnlMatchesReferenceOnOddShapesAllTransposes) {
  const Shape shapes[] = {{1, 1, 1},    {7, 13, 5},     {5, 4, 10},
                          {33, 17, 65}, {64, 784, 256}, {3, 1, 9}};
  Rng rng(7);
  DnnlContext ctx;
  for (auto s : shapes)
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      auto a = ta ? random_matrix<float>(s.k, s.n, rng) : random_matrix<float>(s.n, s.k, rng);
      auto b = tb ? random_matrix<float>(s.m, s.k, rng) : random_matrix<float>(s.k, s.m, rng);
      Matrix<float> c1(s.n, s.m), c2(s.n, s.m);
      GemmOp<float> op;
      op.trans_a = ta;
      op.trans_b = tb;
      ctx.gemm(c1.view(), a.view(), b.view(), op);
      ref::gemm<float>(c2.view(), a.view(), b.view(), op);
      expect_close(c1.view(), c2.view(), s.k,
                   shape_str(s.n, s.k) + "x" + std::to_string(s.m) + " t" + std::to_string(t));
    }
}

TEST(Gemm, DnnlFusedBiasAndActivationMatchReference) {
  const Shape shapes[] = {{1, 1, 1}, {7, 13, 5}, {64, 784, 256}, {9, 30, 10}};
  Rng rng(11);
  DnnlContext ctx;
  for (auto s : shapes)
    for (auto act : kActs) {
      auto a = random_matrix<float>(s.n, s.k, rng);
      auto b = random_matrix<float>(s.k, s.m, rng, 1.0 / std::sqrt(double(s.k)));
      auto bias = random_matrix<float>(1, s.m, rng);
      Matrix<float> c1(s.n, s.m), c2(s.n, s.m);
      GemmOp<float> op;
      op.bias = bias.data();
      op.activate = true;
      op.act = act;
      ctx.gemm(c1.view(), a.view(), b.view(), op);
      ref::gemm<float>(c2.view(), a.view(), b.view(), op);
      expect_close(c1.view(), c2.view(), s.k, std::string(activation_name(act.kind)));
    }
}

TEST(Gemm, DnnlAccumulateIntoCWithBetaOne) {
  Rng rng(3);
  DnnlContext ctx;
  auto a = random_matrix<float>(13, 7, rng), b = random_matrix<float>(7, 5, rng);
  auto c1 = random_matrix<float>(13, 5, rng);
  Matrix<float> c2 = c1;
  GemmOp<float> op;
  op.beta = 1.0f;
  ctx.gemm(c1.view(), a.view(), b.view(), op);
  ref::gemm<float>(c2.view(), a.view(), b.view(), op);
  expect_close(c1.view(), c2.view(), 7, "beta=1");
}

TEST(Gemm, PrimitivesAreCreatedOncePerShape) {
  Rng rng(5);
  DnnlContext ctx;
  auto a = random_matrix<float>(8, 6, rng), b = random_matrix<float>(6, 4, rng);
  Matrix<float> c(8, 4);
  for (int i = 0; i < 5; ++i) ctx.gemm(c.view(), a.view(), b.view(), {});
  EXPECT_EQ(ctx.primitives_created(), 1u);
  GemmOp<float> op;
  op.activate = true;
  ctx.gemm(c.view(), a.view(), b.view(), op);
  EXPECT_EQ(ctx.primitives_created(), 2u);
}

TEST(Gemm, StartUpProductRunsOnceOnItsOwnPrimitive) {
  // Callers racing into the one-time start all return; a context made afterwards holds none of
  // its primitives, and that context's first product (same 64×64×64 shape) is right.
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) callers.emplace_back([] { warm_up_gemm(); });
  for (auto& t : callers) t.join();
  DnnlContext ctx;
  EXPECT_EQ(ctx.primitives_created(), 0u);
  Rng rng(9);
  auto a = random_matrix<float>(64, 64, rng), b = random_matrix<float>(64, 64, rng);
  Matrix<float> got(64, 64), want(64, 64);
  ctx.gemm(got.view(), a.view(), b.view(), {});
  ref::gemm<float>(want.view(), a.view(), b.view(), {});
  expect_close(got.view(), want.view(), 64, "first product after the start-up");
  EXPECT_EQ(ctx.primitives_created(), 1u);
}

TEST(Gemm, ReferenceMatchesHandComputedProduct) {
  // [1 2; 3 4]·[5 6; 7 8] + [1, -1] = [20 21; 44 49]
  Matrix<double> a(2, 2), b(2, 2), c(2, 2), bias(1, 2);
  a[0] = 1, a[1] = 2, a[2] = 3, a[3] = 4;
  b[0] = 5, b[1] = 6, b[2] = 7, b[3] = 8;
  bias[0] = 1, bias[1] = -1;
  GemmOp<double> op;
  op.bias = bias.data();
  ref::gemm<double>(c.view(), a.view(), b.view(), op);
  EXPECT_EQ(c(0, 0), 20);
  EXPECT_EQ(c(0, 1), 21);
  EXPECT_EQ(c(1, 0), 44);
  EXPECT_EQ(c(1, 1), 49);
  op.trans_a = true;  // aᵀ·b = [1 3; 2 4]·[5 6; 7 8] + bias = [27 29; 39 43]
  ref::gemm<double>(c.view(), a.view(), b.view(), op);
  EXPECT_EQ(c(0, 0), 27);
  EXPECT_EQ(c(1, 1), 43);
}

TEST(Elementwise, FastForwardAndBackwardMatchReference) {
  Rng rng(13);
  for (auto act : kActs)
    for (auto [n, m] : {std::pair<int64_t, int64_t>{1, 1}, {7, 13}, {64, 256}, {300, 257}}) {
      auto z = random_matrix<float>(n, m, rng, 2.0);
      auto da = random_matrix<float>(n, m, rng);
      Matrix<float> a1(n, m), a2(n, m);
      activation_forward<float>(a1.view(), z.view(), act);
      ref::activation_forward<float>(a2.view(), z.view(), act);
      expect_close(a1.view(), a2.view(), 1, std::string("fwd ") + activation_name(act.kind));
      const Matrix<float>& saved = backward_needs_z(act) ? z : a2;
      Matrix<float> dz1(n, m), dz2(n, m), db1(1, m), db2(1, m);
      activation_backward<float>(dz1.view(), da.view(), saved.view(), act, db1.data());
      ref::activation_backward<float>(dz2.view(), da.view(), saved.view(), act, db2.data());
      expect_close(dz1.view(), dz2.view(), 1, std::string("bwd ") + activation_name(act.kind));
      expect_close(db1.view(), db2.view(), n, std::string("db ") + activation_name(act.kind));
    }
}

TEST(Elementwise, ActivationDerivativesMatchFiniteDifferences) {
  for (auto act : kActs)
    for (double z : {-2.3, -0.7, 0.4, 1.9}) {
      const double h = 1e-6;
      const double num = (activation_value(act, z + h) - activation_value(act, z - h)) / (2 * h);
      EXPECT_NEAR(activation_grad_z(act, z), num, 1e-8) << activation_name(act.kind) << " " << z;
      if (!backward_needs_z(act)) {
        EXPECT_NEAR(activation_grad_a(act, activation_value(act, z)), num, 1e-8)
            << activation_name(act.kind);
      }
    }
  // GELU exact form at 1: 0.5·(1 + erf(1/√2)) = 0.8413447460685429 (Φ(1)).
  EXPECT_NEAR(activation_value({Activation::gelu, 0}, 1.0), 0.8413447460685429, 1e-15);
}

TEST(SoftmaxXent, FastMatchesReferenceAndHandValue) {
  Rng rng(17);
  for (auto [n, c] : {std::pair<int64_t, int64_t>{1, 1}, {5, 3}, {64, 10}, {513, 7}}) {
    auto s = random_matrix<double>(n, c, rng, 3.0);
    auto y = fcnet::test::random_labels(n, c, rng);
    Matrix<double> s1 = s, s2 = s, db1(1, c), db2(1, c);
    const double l1 = softmax_xent_backward<double>(s1.view(), y.data(), 1.0 / n, db1.data());
    const double l2 = ref::softmax_xent_backward<double>(s2.view(), y.data(), 1.0 / n, db2.data());
    EXPECT_NEAR(l1, l2, 1e-12 * n);
    for (int64_t i = 0; i < s1.size(); ++i) EXPECT_NEAR(s1[i], s2[i], 1e-15);
    for (int64_t j = 0; j < c; ++j) EXPECT_NEAR(db1[j], db2[j], 1e-14);
    // With row weights, in both precisions.
    std::vector<double> w(static_cast<std::size_t>(n));
    for (auto& v : w) v = 2 * rng.uniform();
    Matrix<double> w1 = s, w2 = s;
    const double a =
        softmax_xent_backward<double>(w1.view(), y.data(), 0.5, db1.data(), nullptr, w.data());
    const double b =
        ref::softmax_xent_backward<double>(w2.view(), y.data(), 0.5, db2.data(), nullptr, w.data());
    EXPECT_NEAR(a, b, 1e-12 * n);
    for (int64_t i = 0; i < s1.size(); ++i) EXPECT_NEAR(w1[i], w2[i], 1e-15);
    for (int64_t j = 0; j < c; ++j) EXPECT_NEAR(db1[j], db2[j], 1e-14);
    Matrix<float> f(n, c);
    for (int64_t i = 0; i < s.size(); ++i) f[i] = static_cast<float>(s[i]);
    const double af =
        softmax_xent_backward<float>(f.view(), y.data(), 0.5f, nullptr, nullptr, w.data());
    EXPECT_NEAR(af, b, 1e-5 * (1 + std::abs(b)));
    for (int64_t i = 0; i < s1.size(); ++i) EXPECT_NEAR(f[i], w2[i], 1e-6);
  }
  // Hand value: scores [0, ln 2, ln 5] → probs [1/8, 2/8, 5/8]; y = 2 → loss = ln(8/5).
  Matrix<double> s(1, 3);
  s[0] = 0, s[1] = std::log(2.0), s[2] = std::log(5.0);
  const int32_t y = 2;
  EXPECT_NEAR(softmax_xent_backward<double>(s.view(), &y, 1.0, nullptr), std::log(8.0 / 5.0),
              1e-15);
  EXPECT_NEAR(s[0], 0.125, 1e-15);
  EXPECT_NEAR(s[1], 0.25, 1e-15);
  EXPECT_NEAR(s[2], 0.625 - 1.0, 1e-15);
}

TEST(SoftmaxXent, FiniteAtScoresOfMagnitude1e4) {
  Matrix<float> s(2, 3);
  s[0] = 1e4f, s[1] = -1e4f, s[2] = 0.0f;
  s[3] = -1e4f, s[4] = -1e4f, s[5] = 1e4f;
  const int32_t y[2] = {1, 2};
  Matrix<float> probs(2, 3);
  double losses[2];
  softmax_xent_forward<float>(probs.view(), s.view(), y, losses);
  // Example 0: correct class is 2e4 below the max → loss 2e4 exactly; example 1: loss ~ 0.
  EXPECT_NEAR(losses[0], 2e4, 1e-3);
  EXPECT_NEAR(losses[1], 0.0, 1e-6);
  const double total = softmax_xent_backward<float>(s.view(), y, 0.5f, nullptr);
  EXPECT_TRUE(std::isfinite(total));
  EXPECT_NEAR(total, 2e4, 1e-2);
  for (int64_t i = 0; i < s.size(); ++i) EXPECT_TRUE(std::isfinite(s[i]));
  EXPECT_NEAR(s[0], 0.5, 1e-6);   // p = 1 for the wrong class, ·1/2
  EXPECT_NEAR(s[1], -0.5, 1e-6);  // p = 0 for the right class: (0 − 1)/2
}

TEST(Elementwise, InPlaceBackwardMatchesReference) {
  // The backward pass overwrites da with dz; the in-place kernel must agree with the reference.
  Rng rng(17);
  for (auto act : kActs)
    for (auto [n, m] : {std::pair<int64_t, int64_t>{3, 5}, {128, 1024}, {65, 300}}) {
      auto z = random_matrix<float>(n, m, rng, 2.0);
      auto da = random_matrix<float>(n, m, rng);
      Matrix<float> a(n, m);
      ref::activation_forward<float>(a.view(), z.view(), act);
      const Matrix<float>& saved = backward_needs_z(act) ? z : a;
      Matrix<float> io = da, dz2(n, m), db1(1, m), db2(1, m);
      activation_backward<float>(io.view(), io.view(), saved.view(), act, db1.data());
      ref::activation_backward<float>(dz2.view(), da.view(), saved.view(), act, db2.data());
      expect_close(io.view(), dz2.view(), 1, std::string("in place ") + activation_name(act.kind));
      expect_close(db1.view(), db2.view(), n, std::string("db ") + activation_name(act.kind));
    }
}

TEST(Transpose, MatchesReferenceAndDefinition) {
  Rng rng(19);
  // Shapes around the 8×8 register blocks and 16-row bands (edges in both directions), a
  // power-of-two leading dimension, and sizes above the parallel threshold.
  for (auto [r, c] : {std::pair<int64_t, int64_t>{1, 1},
                      {3, 7},
                      {8, 8},
                      {16, 8},
                      {17, 9},
                      {23, 41},
                      {784, 1024},
                      {1024, 1024},
                      {1000, 37},
                      {17, 1}}) {
    auto in = random_matrix<float>(r, c, rng);
    auto ind = random_matrix<double>(r, c, rng);
    Matrix<float> fast(c, r), slow(c, r);
    Matrix<double> fastd(c, r);
    transpose<float>(fast.view(), in.view());
    transpose<double>(fastd.view(), ind.view());
    ref::transpose<float>(slow.view(), in.view());
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < c; ++j) {
        ASSERT_EQ(slow(j, i), in(i, j));
        ASSERT_EQ(fast(j, i), in(i, j)) << r << "x" << c << " at " << i << "," << j;
        ASSERT_EQ(fastd(j, i), ind(i, j)) << r << "x" << c << " at " << i << "," << j;
      }
  }
  // A strided view (a column block of a wider matrix) into a strided output, whose other
  // entries stay as they were.
  auto wide = random_matrix<float>(19, 40, rng);
  Matrix<float> out(24, 30);
  for (int64_t i = 0; i < out.size(); ++i) out.data()[i] = -1.0f;
  transpose<float>(MatrixView<float>(out.data(), 17, 19, 30),
                   ConstView<float>(wide.data() + 3, 19, 17, 40));
  for (int64_t i = 0; i < 24; ++i)
    for (int64_t j = 0; j < 30; ++j)
      if (i < 17 && j < 19)
        EXPECT_EQ(out(i, j), wide(j, 3 + i));
      else
        EXPECT_EQ(out(i, j), -1.0f) << i << "," << j;
  EXPECT_THROW(transpose<float>(out.view(), wide.view()), Error);
}
