// The seed's worked example computed for real: CS231n's two-layer toy network (5 examples × 4
// features, 10 relu hidden units, 3 classes, no regularization) taken through the forward pass,
// the loss and the backward pass through the softmax layer, in the seed's notation (X, W1, b1,
// Z1, O1, W2, b2, S, U, O2, L_i, L, ∂L_i/∂S, dL/dW2), with the numerical derivative of every
// entry of dL/dW2 beside the analytic one. The numbers come from the library: Network<double>
// with the reference kernels (forward_scores, softmax_xent_forward, forward_backward, loss_only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fcnet/data.hpp"
#include "fcnet/kernels.hpp"
#include "fcnet/model_io.hpp"
#include "fcnet/tensor.hpp"

namespace fcnet {

// NumPy's legacy generator (np.random.seed / np.random.randn: MT19937 with the polar Box–Muller
// method), so the example's numbers are the ones the course's Python code draws.
class NumpyLegacyRandom {
 public:
  // As np.random.seed(seed); seed must be below 2^32.
  explicit NumpyLegacyRandom(uint32_t seed);
  double uniform();  // np.random.random_sample(): 53 random bits in [0, 1)
  double randn();    // np.random.randn()

 private:
  uint32_t next32();
  uint32_t mt_[624];
  int pos_ = 624;
  bool has_gauss_ = false;
  double gauss_ = 0.0;
};

struct SeedExample {
  uint64_t seed = 0;
  // Inputs: np.random.seed(seed): W1 = 0.1·randn(4, 10), W2 = 0.1·randn(10, 3), b1 = b2 = 0;
  // np.random.seed(seed + 1): X = 10·randn(5, 4); y = [0, 1, 2, 2, 1]. Seed 0 is the course's toy.
  Matrix<double> X, W1, b1, W2, b2;
  std::vector<int32_t> y;
  // Forward pass: Z1 = X·W1 + b1, O1 = max(0, Z1), S = O1·W2 + b2, U = exp(S), O2 = softmax(S).
  Matrix<double> Z1, O1, S, U, O2;
  std::vector<double> Li;  // L_i = −log O2[i, y_i]
  double L = 0;            // L = (1/5)·Σ_i L_i
  // Backward: ∂L_i/∂S[i,k] by eq. 1.3 (O2 − 1 at k = y_i, else O2): the snippet's dL_by_dS.
  Matrix<double> dLi_dS;
  Matrix<double> dW2_snippet;    // the seed's snippet: (−1.0/5)·O1ᵀ·dL_by_dS
  Matrix<double> dW2_formula;    // (1/5)·O1ᵀ·dL_by_dS, the gradient written out in loops
  Matrix<double> dW2_library;    // forward_backward's dW2 (reference kernels, double)
  Matrix<double> dW2_numerical;  // (L(W2 + h·e_mn) − L(W2 − h·e_mn)) / 2h with loss_only
  Matrix<double> db2_library, db2_numerical;
  double h = 1e-5;                    // central-difference step
  double max_abs_diff_numerical = 0;  // max |dW2_library − dW2_numerical| (and db2)
  double max_abs_diff_formula = 0;    // max |dW2_formula − dW2_library|
};

// Computes the example; h is the central-difference step. Throws fcnet::Error for seed >= 2^32 − 1.
SeedExample explain_seed_example(uint64_t seed = 0, double h = 1e-5);

// The example as text in the seed's notation, matrices printed with `digits` decimals.
std::string explain_text(const SeedExample& ex, int digits = 6);
// The same as one self-contained HTML page of tables (no script, no external resource).
std::string explain_html(const SeedExample& ex, int digits = 6);
// Every number at full precision (17 significant digits), as one JSON object.
std::string explain_json(const SeedExample& ex);

// One example of a data set through a trained model, the same walk with real numbers: the input
// (raw and transformed, by feature name), Z and O of each hidden layer, the scores S, the
// softmax, and with a label L_i, eq. 1.3's dL_i/dS and the last layer's gradient; then each input's
// attribution (gradient × input) to the log-probability of the predicted class, the gradient
// checked by central differences on that example. Computed in double.
struct ModelExplanation {
  int64_t row = 0;
  ActivationFn activation{};
  std::vector<std::string> names, classes;
  std::vector<double> raw, x;               // the input before and after the model's transform
  std::vector<std::vector<double>> Z, O;    // hidden layers 1..L−1
  std::vector<double> S, P;                 // scores and softmax
  int64_t predicted = 0, label = -1;        // label −1: the data have none
  double Li = 0;                            // −log P[label]
  std::vector<double> dLi_dS, dWL;          // eq. 1.3, and O_{L−1}ᵀ·dL_i/dS (row-major)
  std::vector<double> grad_x, attribution;  // d log P[predicted] / dx, and that × x
  double h = 1e-6, max_abs_diff = 0, max_grad = 0;  // the central-difference check
  int64_t skipped_at_kinks = 0;  // inputs whose every step crossed a relu kink (not compared)
};

ModelExplanation explain_model_example(const Model& model, const Dataset& data, int64_t row,
                                       double h = 1e-6);
std::string explain_model_text(const ModelExplanation& e, int digits = 6);
// Every number at full precision, as one JSON object (keys as the fields above).
std::string explain_model_json(const ModelExplanation& e);

}  // namespace fcnet
