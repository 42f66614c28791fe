// The network's loss and gradients against independent sources: numerical gradients, the seed's
// equations written out element by element, and PyTorch float64 autograd fixtures.
#include <algorithm>
#include <cmath>

#include "fcnet/gradcheck.hpp"
#include "test_util.hpp"

using namespace fcnet;
using namespace fcnet::test;

namespace {
const Activation kAll[] = {Activation::identity, Activation::relu,    Activation::leaky_relu,
                           Activation::tanh,     Activation::sigmoid, Activation::gelu};
}

// The seed's toy shapes: 5 examples, 4 features, 10 hidden units, 3 classes.
TEST(Network, SeedToyGradientsMatchNumericalForEveryActivation) {
  for (auto a : kAll)
    for (double reg : {0.0, 0.05}) {
      Rng rng(42);
      auto net = random_network<double>({4, 10, 3}, {a, 0.01}, rng);
      auto x = random_matrix<double>(5, 4, rng);
      auto y = random_labels(5, 3, rng);
      auto r = gradcheck(net, x.view(), y.data(), reg);
      EXPECT_EQ(r.checked, 4 * 10 + 10 + 10 * 3 + 3);
      EXPECT_LT(r.max_rel_error, 1e-8) << activation_name(a) << " reg " << reg;
    }
}

TEST(Network, DeeperNetGradientsMatchNumerical) {
  for (auto a : kAll) {
    Rng rng(9);
    auto net = random_network<double>({7, 13, 6, 5, 4}, {a, 0.01}, rng);
    auto x = random_matrix<double>(9, 7, rng);
    auto y = random_labels(9, 4, rng);
    auto r = gradcheck(net, x.view(), y.data(), 0.01);
    EXPECT_LT(r.max_rel_error, 1e-7) << activation_name(a);
  }
}

// A planted error of 1e-5 relative in one analytic W1 gradient makes the check fail there, on a
// real input width, for every activation; the same gradients untouched pass.
TEST(Network, GradcheckFindsOnePlantedErrorInW1) {
  for (auto a : kAll) {
    SCOPED_TRACE(activation_name(a));
    Rng rng(3);
    auto net = random_network<double>({784, 64, 32, 10}, {a, 0.01}, rng);
    auto x = random_matrix<double>(5, 784, rng);
    auto y = random_labels(5, 10, rng);
    Workspace<double> ws(false);
    forward_backward(net, x.view(), y.data(), 0.001, ws);
    std::vector<double> grads(net.grads(), net.grads() + net.buffer_size());
    const auto clean = compare_gradients(net, x.view(), y.data(), 0.001, grads.data());
    ASSERT_LT(clean.max_rel_error, 1e-7);
    // The largest W1 gradient, and the median one (by magnitude) among those not exactly zero.
    const int64_t off = net.offset(1, false), count = 784 * 64;
    std::vector<int64_t> order;
    for (int64_t i = 0; i < count; ++i)
      if (grads[off + i] != 0.0) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
      return std::fabs(grads[off + p]) < std::fabs(grads[off + q]);
    });
    ASSERT_FALSE(order.empty());
    const int64_t big = order.back(), small = order[order.size() / 2];
    for (int64_t planted : {big, small}) {
      SCOPED_TRACE(planted);
      auto bad = grads;
      bad[off + planted] *= 1.0 + 1e-5;
      const auto r = compare_gradients(net, x.view(), y.data(), 0.001, bad.data());
      EXPECT_GT(r.max_rel_error, 1e-7);
      EXPECT_EQ(r.worst_tensor, "W1");
      EXPECT_EQ(r.worst_index, planted);
      for (const auto& [name, e] : r.params)
        if (name != "W1") {
          EXPECT_LT(e, 1e-7) << name;
        }
    }
  }
}

// Eq. 1.3: ∂L_i/∂S[i,k] = O2[i,k] − 1 if k = y_i else O2[i,k]; with L the mean over N examples,
// dscores = that / N. And the seed's snippet: dL/dW2 = O1ᵀ·(O2 − onehot(y)) / N.
TEST(Network, Eq13AndSnippetIdentityElementByElement) {
  Rng rng(1);
  auto net = random_network<double>({4, 10, 3}, {Activation::relu, 0}, rng);
  auto x = random_matrix<double>(5, 4, rng);
  auto y = random_labels(5, 3, rng);
  // Forward by hand, following the seed: Z1 = X·W1 + b1, O1 = relu(Z1), S = O1·W2 + b2.
  double O1[5][10], S[5][3], O2[5][3];
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 10; ++j) {
      double z = net.b(1)(0, j);
      for (int p = 0; p < 4; ++p) z += x(i, p) * net.W(1)(p, j);
      O1[i][j] = z > 0 ? z : 0;
    }
    double u_sum = 0, U[3];
    for (int k = 0; k < 3; ++k) {
      S[i][k] = net.b(2)(0, k);
      for (int j = 0; j < 10; ++j) S[i][k] += O1[i][j] * net.W(2)(j, k);
      U[k] = std::exp(S[i][k]);
      u_sum += U[k];
    }
    for (int k = 0; k < 3; ++k) O2[i][k] = U[k] / u_sum;
  }
  Workspace<double> ws(false);
  auto lp = forward_backward(net, x.view(), y.data(), 0.0, ws);
  double L = 0;
  for (int i = 0; i < 5; ++i) L += -std::log(O2[i][y[i]]) / 5.0;
  EXPECT_NEAR(lp.loss, L, 1e-14);
  // dL/dW2[m,n] = Σ_i O1[i,m] · ∂L_i/∂S[i,n] / N with eq. 1.3.
  for (int m = 0; m < 10; ++m)
    for (int n = 0; n < 3; ++n) {
      double g = 0;
      for (int i = 0; i < 5; ++i) g += O1[i][m] * (n == y[i] ? O2[i][n] - 1.0 : O2[i][n]);
      EXPECT_NEAR(net.dW(2)(m, n), g / 5.0, 1e-15) << m << "," << n;
    }
  // db2 = column sums of eq. 1.3 / N.
  for (int n = 0; n < 3; ++n) {
    double g = 0;
    for (int i = 0; i < 5; ++i) g += (n == y[i] ? O2[i][n] - 1.0 : O2[i][n]);
    EXPECT_NEAR(net.db(2)(0, n), g / 5.0, 1e-15);
  }
}

TEST(Network, ZeroWeightsGiveLogC) {
  for (int64_t c : {2, 3, 10}) {
    Network<double> net({6, 5, c}, {});
    Rng rng(2);
    auto x = random_matrix<double>(4, 6, rng);
    auto y = random_labels(4, c, rng);
    Workspace<double> ws(false);
    EXPECT_NEAR(loss_only(net, x.view(), y.data(), 0.3, ws).loss, std::log(double(c)), 1e-15);
  }
}

TEST(Network, RegularisationLossAndGradientHandValues) {
  // Softmax regression with W = [[1, 2], [3, 4]]: reg·Σ W² = 0.1·30 = 3; d/dW adds 2·reg·W.
  Network<double> net({2, 2}, {});
  const double w[4] = {1, 2, 3, 4};
  for (int i = 0; i < 4; ++i) net.W(1).data[i] = w[i];
  Matrix<double> x(1, 2);  // x = 0 → scores = b = 0 → data gradient of W is 0
  const int32_t y = 0;
  Workspace<double> ws(false);
  auto lp = forward_backward(net, x.view(), &y, 0.1, ws);
  EXPECT_NEAR(lp.reg_loss, 3.0, 1e-15);
  EXPECT_NEAR(lp.data_loss, std::log(2.0), 1e-15);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(net.dW(1).data[i], 0.2 * w[i], 1e-15);
  EXPECT_NEAR(net.db(1)(0, 0), -0.5, 1e-15);  // probs 1/2 − 1
  EXPECT_NEAR(net.db(1)(0, 1), 0.5, 1e-15);
}

// Every PyTorch float64 fixture: loss and each gradient to ~1e-12 relative.
TEST(Network, MatchesPyTorchFloat64Autograd) {
  const char* names[] = {"softmax_5_3",      "relu_4_10_3",         "relu_784_32_10",
                         "relu_20_16_8_6_3", "leaky_relu_7_13_5_4", "tanh_20_16_8_6_3",
                         "tanh_4_10_3",      "sigmoid_7_13_5_4",    "sigmoid_1_3_2",
                         "gelu_20_16_8_6_3", "gelu_4_10_3",         "identity_7_13_5_4"};
  for (const char* n : names) {
    auto f = load_net_fixture(std::string("net_") + n + ".safetensors");
    ASSERT_TRUE(f.model.f64) << n;
    Workspace<double> ws(false);
    auto lp = forward_backward(f.model.net64, f.x.view(), f.y.data(), f.reg, ws);
    EXPECT_NEAR(lp.loss, f.meta("loss"), 1e-12 * std::fabs(f.meta("loss"))) << n;
    EXPECT_NEAR(lp.data_loss, f.meta("data_loss"), 1e-12 * std::fabs(f.meta("data_loss"))) << n;
    EXPECT_NEAR(lp.reg_loss, f.meta("reg_loss"), 1e-12 * std::fabs(f.meta("reg_loss")) + 1e-300)
        << n;
    auto& net = f.model.net64;
    for (int l = 1; l <= net.num_layers(); ++l)
      for (bool bias : {false, true}) {
        const std::string pn = (bias ? "b" : "W") + std::to_string(l);
        auto want = f.tensor("grad_" + pn);
        ConstView<double> got = bias ? net.db(l) : net.dW(l);
        double scale = 0;
        for (double v : want) scale = std::max(scale, std::fabs(v));
        for (int64_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got.data[i], want[i], 1e-12 * scale) << n << " " << pn << "[" << i << "]";
      }
    // Same network in float32 through oneDNN: agrees at float32 accuracy.
    auto n32 = net.cast<float>();
    Matrix<float> x32(f.x.rows(), f.x.cols());
    for (int64_t i = 0; i < x32.size(); ++i) x32[i] = static_cast<float>(f.x[i]);
    Workspace<float> ws32(true);
    auto lp32 = forward_backward(n32, x32.view(), f.y.data(), f.reg, ws32);
    EXPECT_NEAR(lp32.loss, f.meta("loss"), 2e-5 * (1 + f.meta("loss"))) << n;
    for (int64_t i = 0; i < net.buffer_size(); ++i)
      ASSERT_NEAR(n32.grads()[i], net.grads()[i], 2e-5 * (1 + std::fabs(net.grads()[i]))) << n;
  }
}

TEST(Network, CS231nToyProblemMatchesCourseValues) {
  auto st = read_safetensors(fixture_path("toy_cs231n.safetensors"));
  SafeTensors params;
  for (auto k : {"W1", "b1", "W2", "b2"}) params.tensors[k] = st.tensors.at(k);
  Model m = model_from_safetensors(params, "toy");
  Matrix<double> x(5, 4);
  auto xv = st.tensors.at("x").to_double("x");
  for (int i = 0; i < 20; ++i) x[i] = xv[i];
  std::vector<int32_t> y = {0, 1, 2, 2, 1};
  Workspace<double> ws(false);
  auto scores = forward_scores(m.net64, x.view(), ws);
  const double course[5][3] = {{-0.81233741, -1.27654624, -0.70335995},
                               {-0.17129677, -1.18803311, -0.47310444},
                               {-0.51590475, -1.01354314, -0.8504215},
                               {-0.15419291, -0.48629638, -0.52901952},
                               {-0.00618733, -0.12435261, -0.15226949}};
  for (int i = 0; i < 5; ++i)
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(scores(i, k), course[i][k], 1e-7);
  auto lp = forward_backward(m.net64, x.view(), y.data(), 0.05, ws);
  EXPECT_NEAR(lp.loss, 1.30378789133, 1e-11);  // the course's stated correct loss
}

TEST(Network, FloatPathIsDeterministicForSameInputs) {
  Rng rng(4);
  auto net = random_network<float>({50, 40, 30, 10}, {Activation::relu, 0}, rng);
  auto x = random_matrix<float>(64, 50, rng);
  auto y = random_labels(64, 10, rng);
  Workspace<float> ws;
  forward_backward(net, x.view(), y.data(), 1e-3, ws);
  std::vector<float> g1(net.grads(), net.grads() + net.buffer_size());
  forward_backward(net, x.view(), y.data(), 1e-3, ws);
  for (int64_t i = 0; i < net.buffer_size(); ++i) ASSERT_EQ(g1[i], net.grads()[i]);
}

TEST(Network, DropoutGradientMatchesNumericalWithFixedMask) {
  // With the RNG reseeded identically for every evaluation, the mask is fixed and the loss is a
  // smooth function of the weights, so the gradient check applies to the dropout path too.
  Rng rng(21);
  auto net = random_network<double>({6, 12, 8, 3}, {Activation::tanh, 0}, rng);
  auto x = random_matrix<double>(7, 6, rng);
  auto y = random_labels(7, 3, rng);
  Workspace<double> ws(false);
  Rng drng(5);
  Dropout d{0.3, &drng};
  forward_backward(net, x.view(), y.data(), 0.0, ws, &d);
  std::vector<double> analytic(net.grads(), net.grads() + net.buffer_size());
  double worst = 0;
  for (int l = 1; l <= 3; ++l) {
    const int64_t off = net.offset(l, false);
    for (int64_t i = 0; i < net.W(l).size(); i += 3) {
      double* p = net.params() + off + i;
      const double s = *p, h = 1e-5;
      *p = s + h;
      drng.reseed(5);
      const double lp = forward_backward(net, x.view(), y.data(), 0.0, ws, &d).loss;
      *p = s - h;
      drng.reseed(5);
      const double lm = forward_backward(net, x.view(), y.data(), 0.0, ws, &d).loss;
      *p = s;
      worst = std::max(worst, rel_error(analytic[off + i], (lp - lm) / (2 * h)));
    }
  }
  EXPECT_LT(worst, 1e-7);
}

// Example weights: the gradient of the weighted mean Σ wᵢ·Lᵢ / Σ wᵢ, against central differences
// of that loss computed from the per-example losses of a plain forward pass.
TEST(Network, WeightedLossGradientMatchesNumerical) {
  Rng rng(23);
  auto net = random_network<double>({5, 9, 4}, {Activation::tanh, 0}, rng);
  auto x = random_matrix<double>(11, 5, rng);
  auto y = random_labels(11, 4, rng);
  std::vector<double> w(11);
  double wsum = 0;
  for (auto& v : w) wsum += v = 0.1 + 3 * rng.uniform();
  Workspace<double> ws(false);
  auto weighted_loss = [&] {
    ConstView<double> sc = forward_scores(net, x.view(), ws);
    Matrix<double> probs(11, 4);
    std::vector<double> li(11);
    softmax_xent_forward<double>(probs.view(), sc, y.data(), li.data());
    double t = 0;
    for (int i = 0; i < 11; ++i) t += w[i] * li[i];
    return t / wsum;
  };
  const LossParts lp =
      forward_backward(net, x.view(), y.data(), 0.0, ws, nullptr, 1.0 / wsum, true, w.data());
  EXPECT_NEAR(lp.data_loss, weighted_loss(), 1e-13);
  std::vector<double> analytic(net.grads(), net.grads() + net.buffer_size());
  double worst = 0;
  for (int64_t i = 0; i < net.buffer_size(); ++i) {
    double* p = net.params() + i;
    const double s = *p, h = 1e-5;
    *p = s + h;
    const double a = weighted_loss();
    *p = s - h;
    const double b = weighted_loss();
    *p = s;
    worst = std::max(worst, rel_error(analytic[i], (a - b) / (2 * h)));
  }
  EXPECT_LT(worst, 1e-7);
  // The gradient check sees the weights: the plain mean's gradient fails it.
  const GradCheckResult ok =
      compare_gradients(net, x.view(), y.data(), 0.0, analytic.data(), 3e-3, 0, nullptr, w.data());
  EXPECT_LT(ok.max_rel_error, 1e-9);
  forward_backward(net, x.view(), y.data(), 0.0, ws);
  std::vector<double> plain(net.grads(), net.grads() + net.buffer_size());
  const GradCheckResult bad =
      compare_gradients(net, x.view(), y.data(), 0.0, plain.data(), 3e-3, 0, nullptr, w.data());
  EXPECT_GT(bad.max_rel_error, 1e-3);
  // Equal weights give the plain mean's gradient.
  std::vector<double> ones(11, 2.5);
  forward_backward(net, x.view(), y.data(), 0.0, ws, nullptr, 1.0 / 27.5, true, ones.data());
  std::vector<double> eq(net.grads(), net.grads() + net.buffer_size());
  forward_backward(net, x.view(), y.data(), 0.0, ws);
  for (int64_t i = 0; i < net.buffer_size(); ++i) EXPECT_NEAR(eq[i], net.grads()[i], 1e-15);
}

TEST(Network, FloatFastPathWithTransposedForwardMatchesDoubleReference) {
  // 784→700 at batch 64 takes the transposed-weights forward (forward_prefers_transposed); its
  // loss and gradients must agree with the float64 reference kernels to float32 rounding.
  ASSERT_TRUE(forward_prefers_transposed(64, 784, 700));
  Rng rng(23);
  auto net = random_network<float>({784, 700, 10}, {Activation::relu, 0}, rng);
  auto x = random_matrix<float>(64, 784, rng);
  auto y = random_labels(64, 10, rng);
  Workspace<float> ws;
  const LossParts fast = forward_backward(net, x.view(), y.data(), 1e-3, ws);
  ASSERT_GT(ws.wt[1].size(), 0);  // the transposed copy was used
  Network<double> net64 = net.cast<double>();
  Matrix<double> x64(64, 784);
  for (int64_t i = 0; i < x64.size(); ++i) x64.data()[i] = x.data()[i];
  Workspace<double> ws64;
  const LossParts ref = forward_backward(net64, x64.view(), y.data(), 1e-3, ws64);
  EXPECT_NEAR(fast.loss, ref.loss, 1e-5 * std::fabs(ref.loss));
  double worst = 0, scale = 0;
  for (int64_t i = 0; i < net.buffer_size(); ++i) {
    worst = std::max(worst, std::fabs(net.grads()[i] - net64.grads()[i]));
    scale = std::max(scale, std::fabs(net64.grads()[i]));
  }
  EXPECT_GT(scale, 1e-3);
  EXPECT_LT(worst, 1e-5 * scale);
}

TEST(Network, SnapshotKeepsTheWeightsWithoutGradients) {
  Rng rng(8);
  Network<float> net = random_network<float>({6, 5, 3}, {Activation::tanh, 0.0}, rng);
  const Network<float> snap = net.snapshot();
  EXPECT_EQ(snap.sizes(), net.sizes());
  EXPECT_EQ(snap.activation().kind, Activation::tanh);
  ASSERT_EQ(snap.buffer_size(), net.buffer_size());
  for (int64_t i = 0; i < net.buffer_size(); ++i) ASSERT_EQ(snap.params()[i], net.params()[i]);
  EXPECT_EQ(snap.grads(), nullptr);
  // Its scores are the network's; a backward pass on it is refused, not a crash.
  Matrix<float> x = random_matrix<float>(4, 6, rng);
  Workspace<float> ws1, ws2;
  ConstView<float> a = forward_scores(net, x.view(), ws1), b = forward_scores(snap, x.view(), ws2);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(a(i, j), b(i, j));
  Network<float> copy = snap;
  const int32_t y[4] = {0, 1, 2, 0};
  EXPECT_THROW(forward_backward<float>(copy, x.view(), y, 0.0, ws2), Error);
}
