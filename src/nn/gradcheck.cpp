#include "fcnet/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fcnet {

double rel_error(double analytic, double numeric) {
  return std::fabs(analytic - numeric) / std::max(1e-8, std::fabs(analytic) + std::fabs(numeric));
}

GradCheckResult gradcheck(Network<double>& net, ConstView<double> x, const int32_t* y, double reg,
                          double h, int64_t max_per_tensor, Rng* rng) {
  Workspace<double> ws(false);
  forward_backward(net, x, y, reg, ws);
  GradCheckResult r;
  for (int l = 1; l <= net.num_layers(); ++l) {
    for (bool bias : {false, true}) {
      const int64_t off = net.offset(l, bias);
      const int64_t count = bias ? net.sizes()[l] : net.sizes()[l - 1] * net.sizes()[l];
      std::vector<int64_t> idx(static_cast<std::size_t>(count));
      std::iota(idx.begin(), idx.end(), 0);
      if (max_per_tensor > 0 && count > max_per_tensor && rng) {
        rng->shuffle(idx);
        idx.resize(static_cast<std::size_t>(max_per_tensor));
      }
      double worst = 0.0;
      for (int64_t i : idx) {
        double* p = net.params() + off + i;
        const double saved = *p;
        auto at = [&](double delta) {
          *p = saved + delta;
          return loss_only(net, x, y, reg, ws).loss;
        };
        // Fourth-order central difference: rounding error ~1e-16/h, truncation ~h⁴, so small
        // gradients are resolved far better than by the two-point form.
        auto diff = [&](double step) {
          return (8.0 * (at(step) - at(-step)) - (at(2 * step) - at(-2 * step))) / (12.0 * step);
        };
        // A step ten times larger divides the rounding error by ten, unless the wider stencil
        // straddles a kink of relu/leaky_relu; then the two estimates disagree and the small
        // step's is kept.
        const double fine = diff(h);
        const double coarse = diff(10.0 * h);
        const double numeric = rel_error(coarse, fine) < 1e-6 ? coarse : fine;
        *p = saved;
        worst = std::max(worst, rel_error(net.grads()[off + i], numeric));
        ++r.checked;
      }
      r.params.emplace_back((bias ? "b" : "W") + std::to_string(l), worst);
      r.max_rel_error = std::max(r.max_rel_error, worst);
    }
  }
  return r;
}

}  // namespace fcnet
