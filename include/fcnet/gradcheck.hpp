// Gradient check: analytic gradients from forward_backward against central differences of the
// loss, in double precision.
//
// The numerical side differentiates the loss, never the backward pass. Two things make it exact
// enough for real shapes (784 inputs, gradients of 1e-9 next to a loss of 2.3):
//  - the change of the loss, L(θ+δ) − L(θ), is computed as a difference from the start: a step on
//    one weight changes one column of its layer's pre-activation by a known amount, that change is
//    carried through the later layers as differences f(z+Δz) − f(z), and each example's change of
//    loss comes from log1p/expm1 of the score changes. Nothing of the size of the loss itself is
//    subtracted, so rounding stays relative to the change, not to L;
//  - the step is relative to the scale of the parameter's tensor (3e-3 of its RMS by default),
//    halved by 16 (up to four times) where the stencil would cross a kink of relu or leaky_relu;
//    a parameter that still straddles one is skipped and counted.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "fcnet/network.hpp"

namespace fcnet {

// |a − n| / max(1e-8, |a| + |n|), CS231n's rel_error for one pair of numbers.
double rel_error(double analytic, double numeric);

// The criterion, in words (for --help and JSON): how one analytic value a is compared with its
// numerical value n.
extern const char* const kGradCheckCriterion;

struct GradCheckResult {
  std::vector<std::pair<std::string, double>> params;  // largest error per tensor W1, b1, …
  double max_rel_error = 0.0;                          // largest over all tensors
  std::string worst_tensor;                            // where it is ("W1"), "" when none checked
  int64_t worst_index = -1;                            // row-major index in that tensor
  int64_t checked = 0;                                 // scalars compared
  int64_t skipped_at_kinks = 0;  // scalars left out: every step tried crossed a relu kink
};

// Compares `analytic` (a buffer in the layout of net.grads()) with fourth-order central
// differences (8(D(δ) − D(−δ)) − (D(2δ) − D(−2δ))) / 12δ of the loss on (x, y) with L2 `reg`, where
// D(δ) = L(θ+δ) − L(θ) is computed as described above. Each value is judged by kGradCheckCriterion:
// |a − n| / max(|a| + |n|, m), where m = (mean_i |ΔLᵢ(δ)| + |ΔLᵢ(−δ)| + the reg term's) / 2δ is
// the size of the per-example contributions; it equals |n| when they agree in sign and stays
// meaningful when they cancel to a gradient near zero. `h` is the step relative to each tensor's
// RMS. With max_per_tensor > 0, that many entries per tensor are drawn with rng. Uses the OpenMP
// threads; the result does not depend on their number. With `weights` (N values) the loss is the
// weighted mean Σ wᵢ·Lᵢ / Σ wᵢ (forward_backward's with those weights).
GradCheckResult compare_gradients(const Network<double>& net, ConstView<double> x, const int32_t* y,
                                  double reg, const double* analytic, double h = 3e-3,
                                  int64_t max_per_tensor = 0, Rng* rng = nullptr,
                                  const double* weights = nullptr);

// Backprop (forward_backward, reference kernels) on (x, y), then compare_gradients against it.
// The parameters are left unchanged; the gradients hold backprop's.
GradCheckResult gradcheck(Network<double>& net, ConstView<double> x, const int32_t* y, double reg,
                          double h = 3e-3, int64_t max_per_tensor = 0, Rng* rng = nullptr,
                          const double* weights = nullptr);

}  // namespace fcnet
