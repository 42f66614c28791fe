// Gradient check: analytic gradients from forward_backward against central differences of the
// loss, in double precision, with CS231n's relative error.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "fcnet/network.hpp"

namespace fcnet {

// |a − n| / max(1e-8, |a| + |n|), CS231n's rel_error for one pair of numbers.
double rel_error(double analytic, double numeric);

struct GradCheckResult {
  std::vector<std::pair<std::string, double>> params;  // max relative error per tensor W1, b1, …
  double max_rel_error = 0.0;
  int64_t checked = 0;  // number of scalars compared
};

// Compares d loss / d θ from backprop with the central difference
// (8(L(θ+h) − L(θ−h)) − (L(θ+2h) − L(θ−2h))) / 12h (also at step 10h, used when the two agree, for
// less rounding error) for every parameter (or, when
// max_per_tensor > 0, that many entries per tensor drawn with rng). The network is left unchanged.
GradCheckResult gradcheck(Network<double>& net, ConstView<double> x, const int32_t* y, double reg,
                          double h = 1e-4, int64_t max_per_tensor = 0, Rng* rng = nullptr);

}  // namespace fcnet
